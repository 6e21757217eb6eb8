"""The schemas in Hydra's ConfigStore: `register_configs()` stores each root config's schema as
`NAME_schema`, the first entry of `configs/NAME.yaml`'s defaults list, so every key has its type
and its one default before the YAML's values and the command line merge over it.

Entry points call `register_configs()` before Hydra composes (`kokoro_lab.tasks.cli`), as does
`compose_config()`; importing this module stores nothing.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from kokoro_lab.schemas.benchmark import BenchmarkConfig
from kokoro_lab.schemas.evaluate import EvalConfig
from kokoro_lab.schemas.export_onnx import ExportOnnxConfig
from kokoro_lab.schemas.finetune_voice import FinetuneVoiceConfig
from kokoro_lab.schemas.infer import InferConfig
from kokoro_lab.schemas.phonemize import PhonemizeConfig
from kokoro_lab.schemas.serve import ServeConfig
from kokoro_lab.schemas.synthesize import SynthesizeConfig
from kokoro_lab.schemas.train import TrainConfig
from kokoro_lab.schemas.weights import CountParamsConfig, ExportCheckpointConfig

#: Root config name (configs/NAME.yaml) -> its schema.
SCHEMAS: dict[str, type] = {
    "infer": InferConfig,
    "phonemize": PhonemizeConfig,
    "train": TrainConfig,
    "finetune_voice": FinetuneVoiceConfig,
    "eval": EvalConfig,
    "synthesize": SynthesizeConfig,
    "benchmark": BenchmarkConfig,
    "serve": ServeConfig,
    "count_params": CountParamsConfig,
    "export_checkpoint": ExportCheckpointConfig,
    "export_onnx": ExportOnnxConfig,
}


def schema_name(config_name: str) -> str:
    """The ConfigStore name of `configs/CONFIG_NAME.yaml`'s schema."""
    return f"{config_name}_schema"


def _composable(node: DictConfig) -> DictConfig:
    """`node` ready for Hydra to compose onto, at every depth:
    - not read-only: the model schema is the frozen KokoroConfig, and a frozen dataclass becomes
      a read-only node that the model group could not be merged onto (frozen keeps the
      KokoroConfig objects built from the config immutable);
    - open mappings (`dict[str, ...]` fields: lr_scales, trainer, ...) not in struct mode, so
      `key=value` can add to them as `+key=value` can: their keys are checked after composing
      (kokoro_lab.schemas.validate)."""
    OmegaConf.set_readonly(node, False)
    if node._metadata.object_type in (None, dict):  # not a dataclass node
        OmegaConf.set_struct(node, False)
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _composable(child)
    return node


def schema_node(schema: type) -> DictConfig:
    """`schema` as the typed, writable node Hydra composes onto."""
    return _composable(OmegaConf.structured(schema))


def register_configs() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        store.store(name=schema_name(name), node=schema_node(schema))
