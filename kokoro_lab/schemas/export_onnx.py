"""`configs/export_onnx.yaml`'s schema: the keys of `scripts/export_onnx.py`.

python scripts/export_onnx.py output=DIR [checkpoint=SOURCE]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class ExportOnnxConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    checkpoint: str | None = None  # null/embedded = the offline default; v1.0 | v0.19; a .pth
    output: str = "???"  # required: the folder that gets kokoro.onnx and kokoro.int8.onnx
    int8: bool = True  # also write kokoro.int8.onnx (static int8 generator convolutions, QDQ)
