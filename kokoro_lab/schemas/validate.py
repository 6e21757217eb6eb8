"""Validation after composing: every key of a composed config is one its schema defines.

Hydra types every key it composes onto a schema, but a `+key=value` override is added whatever
the schema says; `validate(cfg, name)` catches those, naming the full key and the closest valid
ones. The groups Hydra instantiates (`_target_` nodes: data, trainer, logger, callbacks,
modules.*) are open mappings in the schemas; their keys are checked against the signature of
the `_target_` (unless it takes **kwargs).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from kokoro_lab.errors import UserValueError
from kokoro_lab.schemas.store import SCHEMAS

#: Advice for keys below a mapping whose keys may hold dots (a dotted path splits them).
DOTTED_KEY_ADVICE = {
    "training.optim.lr_scales": (
        "a prefix with dots goes inside a mapping: 'training.optim.lr_scales={predictor.F0: 0.5}'"
    ),
}


def advice_for(full_key: str) -> list[str]:
    """DOTTED_KEY_ADVICE for a key below one of its mappings."""
    return [a for p, a in DOTTED_KEY_ADVICE.items() if full_key.startswith(p + ".")]


class UnknownKeyError(UserValueError):
    """A config key that no schema (or `_target_` signature) defines."""


def unknown_key(full_key: str, valid: Iterable[str], where: str | None = None) -> UnknownKeyError:
    """The error for `full_key`: the closest of the `valid` sibling keys, else all of them."""
    valid = sorted(valid)
    parent, _, key = full_key.rpartition(".")
    prefix = f"{parent}." if parent else ""
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(prefix + k) for k in close) + "?"
    else:
        hint = f"{parent or 'the config'} takes {', '.join(valid) or 'no keys'}"
    source = f" ({where})" if where else ""
    advice = advice_for(full_key)
    return UnknownKeyError(
        f"unknown config key {full_key!r}{source}: {hint}" + "".join(f"; {a}" for a in advice)
    )


def known_dict(schema: type, given: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """`schema`'s defaults (a dataclass) updated by `given` -> dict; an unknown key in `given`
    is an UnknownKeyError naming `where.KEY`."""
    names = [f.name for f in dataclasses.fields(schema)]
    for key in given or {}:
        if key not in names:
            raise unknown_key(f"{where}.{key}", names)
    return {**dataclasses.asdict(schema()), **(given or {})}


def _field_types(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return hint


def _is_special(key: str) -> bool:
    return key.startswith("_") and key.endswith("_")  # Hydra's _target_, _partial_, ...


def _check_target(node: dict, path: str) -> None:
    """`node`'s keys are arguments of its `_target_` (when that imports and has no **kwargs)."""
    from hydra.utils import get_object

    target = node.get("_target_")
    if not isinstance(target, str) or "${" in target:
        return
    try:
        signature = inspect.signature(get_object(target))
    except Exception:  # noqa: BLE001 - unimportable: instantiate reports it in its own words
        return
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in node:
        if not _is_special(str(key)) and key not in names:
            raise unknown_key(f"{path}.{key}", names, where=f"an argument of {target}")


def _check_open(node: dict, path: str) -> None:
    """An open mapping: one `_target_` node, or named ones (callbacks, modules)."""
    if "_target_" in node:
        _check_target(node, path)
        return
    for key, value in node.items():
        if isinstance(value, dict) and "_target_" in value:
            _check_target(value, f"{path}.{key}")


def check_keys(tree: Mapping, schema: type, path: str = "") -> None:
    """Every key of `tree` (a plain nested dict) is a field of the dataclass `schema`, at every
    depth; UnknownKeyError for the first that is not."""
    types_ = _field_types(schema)
    for key, value in tree.items():
        full = f"{path}{key}"
        if key not in types_:
            raise unknown_key(full, types_)
        hint = _strip_optional(types_[key])
        if not isinstance(value, dict):
            continue
        if dataclasses.is_dataclass(hint):
            check_keys(value, hint, f"{full}.")
        else:
            _check_open(value, full)


def validate(cfg: DictConfig, config_name: str) -> DictConfig:
    """`cfg` (composed from configs/CONFIG_NAME.yaml) unchanged, once every key is one the
    schema defines; UnknownKeyError naming the first that is not. Interpolations stay
    unresolved. A config with no schema passes as it is."""
    schema = SCHEMAS.get(config_name)
    if schema is not None:
        tree = OmegaConf.to_container(cfg, resolve=False)
        tree.pop("hydra", None)  # Hydra's own node (present with return_hydra_config)
        check_keys(tree, schema)
    return cfg
