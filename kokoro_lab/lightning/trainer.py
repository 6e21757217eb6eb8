"""`make_trainer(cfg)`: the one place a task's config becomes a Lightning Trainer.

Training composes a `trainer` config group (configs/trainer/*.yaml: cpu, gpu, ddp, ...); the
single-device tasks (inference over lines, evaluation, voice fine-tuning) have a `device` key
(`cpu`, `cuda`, `cuda:N`) and get one device of that kind.
"""

from __future__ import annotations

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig


def accelerator_for(device: str) -> str:
    """A torch device string (cpu, cuda, cuda:1) -> Lightning's accelerator name (cpu, gpu)."""
    return "gpu" if str(device).startswith("cuda") else "cpu"


def make_trainer(cfg: DictConfig, **overrides) -> L.Trainer:
    """The run's Trainer: `cfg.trainer` instantiated when the config has a trainer group, else
    one device of the kind `cfg.device` names, no logger and no model summary. `overrides`
    (callbacks, logger, max_steps, ...) win over both."""
    if cfg.get("trainer") is not None:
        return instantiate(cfg.trainer, **overrides)
    defaults = {
        "accelerator": accelerator_for(cfg.device),
        "devices": 1,
        "logger": False,
        "enable_model_summary": False,
    }
    return L.Trainer(**{**defaults, **overrides})
