"""F0 error between a reference and a synthesized clip: RMSE over frames voiced in both, and the
voiced/unvoiced decision error rate.

F0 and voicing come from probabilistic YIN (librosa.pyin, Mauch & Dixon 2014) with
fmin = 50 Hz, fmax = 550 Hz, a 2048-sample window and a 10 ms hop at 24 kHz. Frames are paired
by DTW on mel-cepstra c1..c24 (`MelCepstralDistortion` features, same hop), so a different
speaking rate does not count as a pitch error; align="length" pairs frame i of the reference with
frame round(i * (f2 - 1) / (f1 - 1)) of the synthesis instead (the identity for equal lengths).
Over the aligned pairs:

    rmse_cents = sqrt(mean_{both voiced} (1200 * log2(f0_syn / f0_ref))^2)
    rmse_hz    = sqrt(mean_{both voiced} (f0_syn - f0_ref)^2)
    vuv_error  = mean_{all pairs} [voiced_ref != voiced_syn]

Identical clips give 0 for all three; a copy shifted up 2 semitones gives rmse_cents near 200.
With no frame voiced in both, the RMSEs are nan.
Axes: n samples, f frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kokoro_lab.audio.checks import resample
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError
from kokoro_lab.metrics.spectral import MelCepstralDistortion, dtw_path

log = logging.getLogger(__name__)

CENTS_PER_OCTAVE = 1200.0
Align = Literal["dtw", "length"]


@dataclass(frozen=True)
class PitchErrors:
    """F0 errors of one clip pair; n_pairs aligned frame pairs, n_voiced voiced in both."""

    rmse_cents: float
    rmse_hz: float
    vuv_error: float
    n_pairs: int
    n_voiced: int


class F0Metrics:
    """F0 RMSE and V/UV error with pyin; see the module docstring. Clips are resampled to
    `sample_rate` first."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        fmin: float = 50.0,
        fmax: float = 550.0,
        frame_length: int = 2048,
        hop_length: int = 240,
        align: Align = "dtw",
    ):
        if align not in ("dtw", "length"):
            raise UserValueError(f"align must be 'dtw' or 'length', got {align!r}")
        if not 0 < fmin < fmax < sample_rate / 2:
            raise UserValueError(
                f"need 0 < fmin < fmax < sample_rate/2, got fmin={fmin}, fmax={fmax}, "
                f"sample_rate={sample_rate}"
            )
        self.sample_rate, self.fmin, self.fmax = sample_rate, fmin, fmax
        self.frame_length, self.hop_length, self.align = frame_length, hop_length, align
        self._cepstrum = MelCepstralDistortion(sample_rate=sample_rate, hop_length=hop_length)

    def f0(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """audio (n,) at sample_rate -> f0 (f,) in Hz (nan where unvoiced), voiced (f,) bool,
        with f = 1 + n' // hop_length for the length n' at self.sample_rate."""
        import librosa

        x = resample(audio, sample_rate, self.sample_rate)
        f0, voiced, _ = librosa.pyin(
            x,
            fmin=self.fmin,
            fmax=self.fmax,
            sr=self.sample_rate,
            frame_length=self.frame_length,
            hop_length=self.hop_length,
        )
        return f0, voiced.astype(bool)

    def _pairs(self, reference, synthesized, sample_rate, f1: int, f2: int) -> np.ndarray:
        if self.align == "length":
            if f1 == 1:
                return np.zeros((1, 2), dtype=int)
            j = np.rint(np.arange(f1) * (f2 - 1) / (f1 - 1)).astype(int)
            return np.stack([np.arange(f1), j], axis=1)
        ref = self._cepstrum.mel_cepstrum(reference, sample_rate)[:f1, 1:]
        hyp = self._cepstrum.mel_cepstrum(synthesized, sample_rate)[:f2, 1:]
        return dtw_path(ref, hyp)

    def __call__(
        self, reference: np.ndarray, synthesized: np.ndarray, sample_rate: int
    ) -> PitchErrors:
        """reference (n1,), synthesized (n2,) at sample_rate -> PitchErrors."""
        f0_ref, v_ref = self.f0(reference, sample_rate)
        f0_syn, v_syn = self.f0(synthesized, sample_rate)
        pairs = self._pairs(reference, synthesized, sample_rate, len(f0_ref), len(f0_syn))
        a, b = f0_ref[pairs[:, 0]], f0_syn[pairs[:, 1]]
        va, vb = v_ref[pairs[:, 0]], v_syn[pairs[:, 1]]
        both = va & vb & np.isfinite(a) & np.isfinite(b)
        if both.any():
            cents = CENTS_PER_OCTAVE * np.log2(b[both] / a[both])
            rmse_cents = float(np.sqrt(np.mean(cents**2)))
            rmse_hz = float(np.sqrt(np.mean((b[both] - a[both]) ** 2)))
        else:
            log.warning("no frame is voiced in both clips: F0 RMSE is undefined (nan)")
            rmse_cents = rmse_hz = float("nan")
        return PitchErrors(
            rmse_cents=rmse_cents,
            rmse_hz=rmse_hz,
            vuv_error=float(np.mean(va != vb)),
            n_pairs=len(pairs),
            n_voiced=int(both.sum()),
        )
