"""Audio files: read (mono float, optionally resampled to a rate) and write (16-bit PCM WAV,
atomically). Axes: n samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from kokoro_lab.audio.checks import resample
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import atomic_write

#: Float [-1, 1] <-> 16-bit PCM: how cached training clips store their audio.
PCM_SCALE = 32767.0


def write_wav(path: str | os.PathLike, audio, sample_rate: int = SAMPLE_RATE) -> Path:
    """Mono float audio (n,) -> 16-bit PCM WAV, written atomically (whole file or none)."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().float().numpy()
    audio = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise UserValueError(f"output {str(path)!r} must end in .wav")
    return atomic_write(
        path, lambda tmp: sf.write(tmp, audio, sample_rate, subtype="PCM_16", format="WAV")
    )


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A sound file -> (audio (n,) float32 in [-1, 1], mono (channels averaged), sample rate)."""
    path = Path(path)
    if not path.is_file():
        raise UserFileError(f"audio file {str(path)!r} does not exist")
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        raise UserValueError(f"cannot read {str(path)!r} as audio: {err}") from None
    if audio.shape[0] == 0:
        raise UserValueError(f"audio file {str(path)!r} is empty")
    return audio.mean(axis=1), int(rate)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """A sound file -> mono float32 (n,) at `sample_rate` (soxr resampling when needed)."""
    audio, rate = read_audio(path)
    if rate != sample_rate:
        audio = resample(audio, rate, sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)
