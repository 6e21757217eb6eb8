"""The model group's schema (`configs/model/*.yaml`): KokoroConfig itself, plus the label."""

from __future__ import annotations

from dataclasses import dataclass

from kokoro_lab.config import KokoroConfig


@dataclass(frozen=True)
class ModelConfig(KokoroConfig):
    """`model.*`: KokoroConfig's sizes (its field defaults are Kokoro-82M v1.0) and `name`, the
    label of the chosen `configs/model/NAME.yaml` (reports and W&B runs show it)."""

    name: str | None = None
