"""Typed configs: one dataclass schema per config family, registered in Hydra's ConfigStore.

Each root config `configs/NAME.yaml` starts its defaults list with `NAME_schema`, so Hydra
composes the YAML's values and the command line onto typed nodes: a mistyped `key=value` or a
wrong type fails while composing, and `validate` catches keys added with `+key=value`. The
schema's field defaults are the only defaults; the YAML files hold the values a run chooses.

  model.py           the model group: KokoroConfig itself, plus its `name` label
  voice.py           the voice group: one catalogue entry (+voice=NAME)
  infer.py, phonemize.py, train.py, finetune_voice.py, evaluate.py, benchmark.py,
  weights.py         (count_params, export_checkpoint): the root configs
  store.py           register_configs(): the schemas into Hydra's ConfigStore
  validate.py        validate(cfg, name): every key one a schema (or a _target_) defines
  compose.py         compose_config(name, overrides): compose + validate, for library code
"""

from kokoro_lab.schemas.compose import compose_config, composition_errors
from kokoro_lab.schemas.store import SCHEMAS, register_configs
from kokoro_lab.schemas.validate import UnknownKeyError, known_dict, validate

__all__ = [
    "SCHEMAS",
    "UnknownKeyError",
    "compose_config",
    "composition_errors",
    "known_dict",
    "register_configs",
    "validate",
]
