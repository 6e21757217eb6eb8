"""Locate and read the Hydra configs from library code (entry points, tests, notebooks).

The configs live in the repository's top-level `configs/`; a wheel carries the same folder as
`kokoro_lab/_configs` (pyproject.toml maps it in at build time). `config_dir()` is the one place
that decides which copy is used.
"""

from __future__ import annotations

import importlib.resources as resources
from pathlib import Path

from omegaconf import OmegaConf

from kokoro_lab.config import KokoroConfig
from kokoro_lab.errors import UserFileError, UserValueError

#: The installed package's copy of configs/ (pyproject.toml: `[tool.setuptools.package-dir]`).
PACKAGED_CONFIGS = "_configs"


def config_dir() -> Path:
    """Hydra's config directory: the source checkout's top-level `configs/` when kokoro_lab is
    imported from a checkout (an editable install included), else the copy an installed wheel
    carries as `kokoro_lab/_configs`."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "configs").is_dir():
        return checkout / "configs"
    installed = resources.files("kokoro_lab") / PACKAGED_CONFIGS
    if isinstance(installed, Path) and installed.is_dir():  # Hydra reads a real folder
        return installed
    raise UserFileError(
        f"kokoro_lab's configs are missing: neither {str(checkout / 'configs')!r} (a source "
        f"checkout) nor {str(installed)!r} (an installed wheel) is a directory. Reinstall "
        "kokoro_lab (`pip install .` from the repository, or `pip install -e .`)"
    )


def model_config(name: str = "kokoro_v1") -> KokoroConfig:
    """`configs/model/NAME.yaml` as a KokoroConfig."""
    models = config_dir() / "model"
    path = models / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in models.glob("*.yaml"))
        raise UserValueError(f"unknown model config {name!r}; known: {known}")
    return model_config_from(OmegaConf.load(path))


def model_config_from(node) -> KokoroConfig:
    """A Hydra/OmegaConf model node (or plain dict) -> KokoroConfig (the `name` key is a label)."""
    d = OmegaConf.to_container(node, resolve=True) if not isinstance(node, dict) else dict(node)
    d.pop("name", None)
    return KokoroConfig.from_dict(d)
