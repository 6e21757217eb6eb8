"""`python scripts/export_onnx.py output=DIR`: the loaded weights -> DIR/kokoro.onnx (fp32) and
DIR/kokoro.int8.onnx, each written atomically, with kokoro-onnx's inputs and outputs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from kokoro_lab.errors import UserFileError, UserPermissionError
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.model import load_model
from kokoro_lab.onnx_export.export import save_onnx, trace_to_onnx
from kokoro_lab.onnx_export.quantize import write_int8

log = logging.getLogger(__name__)

FP32_NAME = "kokoro.onnx"
INT8_NAME = "kokoro.int8.onnx"


@dataclass
class ExportOnnxResult:
    paths: list[Path]


def output_folder(output: str) -> Path:
    """`output=` as a folder that exists and is writable (created if missing), else a UserError
    naming it; checked before the minute of tracing."""
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise UserFileError(
            f"output={output!r} is a file: give a folder, which gets {FP32_NAME} and {INT8_NAME}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserPermissionError(
            f"output={output!r} cannot be created ({err.strerror}): choose a writable folder"
        ) from None
    return folder


def export_onnx(cfg: DictConfig) -> ExportOnnxResult:
    """Trace the model once, write the fp32 file, quantize it (`int8=true`) next to it."""
    folder = output_folder(str(cfg.output))
    model = load_model(cfg.get("checkpoint"), config=model_config_from(cfg.model))
    log.info("tracing the model (about a minute on 2 CPU cores)")
    fp32 = save_onnx(trace_to_onnx(model), folder / FP32_NAME)
    paths = [fp32]
    if cfg.int8:
        paths.append(write_int8(fp32, folder / INT8_NAME))
    return ExportOnnxResult(paths)
