"""Input checks and resampling shared by the metrics. Axes: n samples.

Every metric takes mono float audio plus its sample rate and converts it here, so a wrong shape or
rate fails with one clear message instead of deep inside librosa or an ONNX session.
"""

from __future__ import annotations

import numpy as np

from kokoro_lab.errors import UserValueError


def as_mono(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """audio (n,) or (1, n) float -> (n,) float32, finite, non-empty."""
    x = np.asarray(audio)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise UserValueError(
            f"{name} must be mono with shape (n,), got shape {x.shape}: "
            "mix down (e.g. audio.mean(axis=-1)) before scoring"
        )
    if x.size == 0:
        raise UserValueError(f"{name} is empty: pass at least one sample")
    if not np.issubdtype(x.dtype, np.floating):
        raise UserValueError(
            f"{name} must be float in [-1, 1], got dtype {x.dtype}: "
            "convert integer PCM with audio / 32768"
        )
    if not np.all(np.isfinite(x)):
        raise UserValueError(f"{name} contains NaN or inf samples")
    return x.astype(np.float32, copy=False)


def check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise UserValueError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    return int(sample_rate)


def resample(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """audio (n,) at sample_rate -> (n * target_rate / sample_rate,) float32 at target_rate."""
    x = as_mono(audio)
    sample_rate = check_rate(sample_rate)
    if sample_rate == target_rate:
        return x
    import librosa  # heavy (numba): imported on first use, not with the package

    y = librosa.resample(x, orig_sr=sample_rate, target_sr=target_rate, res_type="soxr_hq")
    return y.astype(np.float32, copy=False)
