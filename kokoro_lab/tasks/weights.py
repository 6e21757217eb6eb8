"""Weight utilities behind scripts/count_params.py and scripts/export_checkpoint.py."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from kokoro_lab.checkpoint import save_checkpoint
from kokoro_lab.errors import UserValueError
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.model import KokoroModel, count_parameters, load_model


def count_params(cfg: DictConfig) -> dict[str, int]:
    """Parameters per component (and total) of the model a config describes; no weights needed."""
    return count_parameters(KokoroModel(model_config_from(cfg.model)))


def export_checkpoint(cfg: DictConfig) -> Path:
    """The weights the model has loaded (default: embedded) -> official v1.0 layout, atomically."""
    output = Path(cfg.output)
    if output.suffix != ".pth":
        raise UserValueError(f"output={str(output)!r} should end in .pth (an official-layout file)")
    model = load_model(cfg.get("checkpoint"), config=model_config_from(cfg.model), fold=False)
    return save_checkpoint(model, output)
