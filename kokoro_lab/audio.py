"""Reading and writing audio files (atomically) and reading user text files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import atomic_write


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


def read_text_file(path: str | os.PathLike) -> str:
    """A UTF-8 text file; a clear error for a missing or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise UserFileError(f"text file {str(path)!r} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserValueError(
            f"text file {str(path)!r} is not valid UTF-8 (byte {err.start}: {err.reason}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8`"
        ) from None
