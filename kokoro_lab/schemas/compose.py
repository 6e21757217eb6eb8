"""Compose a config as an entry point would, from library code (tests, notebooks):
`compose_config("infer", ["text=Hi."])`, with the schemas registered, composition errors as
user errors and every key validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from omegaconf import DictConfig

from kokoro_lab.errors import UserValueError
from kokoro_lab.schemas.store import SCHEMAS, register_configs
from kokoro_lab.schemas.validate import advice_for, unknown_key, validate


def _omegaconf_cause(err: BaseException):
    from omegaconf.errors import OmegaConfBaseException

    while err is not None:
        if isinstance(err, OmegaConfBaseException):
            return err
        err = err.__cause__ or err.__context__
    return None


def _valid_keys(config_name: str, full_key: str) -> list[str]:
    """The keys the schema defines beside `full_key` (none where it is not in a dataclass)."""
    import dataclasses
    import typing

    from kokoro_lab.schemas.validate import _strip_optional

    schema = SCHEMAS.get(config_name)
    *parents, _ = re.sub(r"\[\d+\]", "", full_key).split(".")
    for part in parents:
        if schema is None or not dataclasses.is_dataclass(schema):
            return []
        schema = _strip_optional(typing.get_type_hints(schema).get(part))
    if schema is None or not dataclasses.is_dataclass(schema):
        return []
    return [f.name for f in dataclasses.fields(schema)]


#: Lines of OmegaConf's and Hydra's messages that repeat what the one line already says.
_NOISE = ("full_key:", "object_type=", "reference_type=", "See https://hydra.cc")


def _one_line(text: str) -> str:
    """A multi-line Hydra/OmegaConf message as one line: a list after `...:` joined by commas,
    the config search path and OmegaConf's key/type trailer left out."""
    text = str(text).split("Config search path:")[0]
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_NOISE)]
    out: list[str] = []
    listing = False
    for line in lines:
        if listing:
            out[-1] += (" " if out[-1].endswith(":") else ", ") + line
        else:
            out.append(line)
        listing = listing or line.endswith(":")
    return "; ".join(out)


def user_error(err: Exception, config_name: str) -> UserValueError:
    """A Hydra composition error (a bad override, group option or YAML value) as one line."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    cause = _omegaconf_cause(err)
    full_key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and full_key:
        return unknown_key(full_key, _valid_keys(config_name, full_key))
    if isinstance(cause, ValidationError) and full_key:
        advice = "".join(f"; {a}" for a in advice_for(full_key))
        return UserValueError(f"config key {full_key!r}: {_one_line(cause)}{advice}")
    return UserValueError(f"configs/{config_name}.yaml: {_one_line(err)}")


@contextmanager
def composition_errors(config_name: str) -> Iterator[None]:
    """Hydra's and OmegaConf's errors inside the block become one-line user errors."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except (HydraException, OmegaConfBaseException) as err:
        raise user_error(err, config_name) from err


def compose_config(
    config_name: str | None,
    overrides: Sequence[str] = (),
    *,
    config_dir: str | None = None,
) -> DictConfig:
    """configs/CONFIG_NAME.yaml (None: no primary config) composed by Hydra with command-line
    style `overrides` and validated against its schema -> DictConfig (Hydra's node left out)."""
    from hydra import compose, initialize_config_dir

    from kokoro_lab.hydra_configs import config_dir as default_config_dir

    register_configs()
    name = config_name or ""
    with initialize_config_dir(str(config_dir or default_config_dir()), version_base="1.3"):
        with composition_errors(name):
            cfg = compose(config_name, overrides=list(overrides))
    return validate(cfg, name)
