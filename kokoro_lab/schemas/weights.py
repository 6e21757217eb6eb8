"""Schemas of the weight tools: `configs/count_params.yaml`, `configs/export_checkpoint.yaml`.

python scripts/count_params.py model=kokoro_v1
python scripts/export_checkpoint.py output=PATH.pth [checkpoint=SOURCE]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class CountParamsConfig:
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass
class ExportCheckpointConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    checkpoint: str | None = None  # null/embedded = the offline default; v1.0 | v0.19; a .pth
    output: str = "???"  # required: the .pth written
