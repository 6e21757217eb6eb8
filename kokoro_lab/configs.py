"""Locate and read the repository's Hydra configs from library code (tests, notebooks)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from kokoro_lab.config import KokoroConfig

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def model_config(name: str = "kokoro_v1") -> KokoroConfig:
    """`configs/model/NAME.yaml` as a KokoroConfig."""
    path = CONFIG_DIR / "model" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONFIG_DIR / "model").glob("*.yaml"))
        raise ValueError(f"unknown model config {name!r}; known: {known}")
    return model_config_from(OmegaConf.load(path))


def model_config_from(node) -> KokoroConfig:
    """A Hydra/OmegaConf model node (or plain dict) -> KokoroConfig (the `name` key is a label)."""
    d = OmegaConf.to_container(node, resolve=True) if not isinstance(node, dict) else dict(node)
    d.pop("name", None)
    return KokoroConfig.from_dict(d)
