"""Mel-cepstral distortion (MCD) between a reference and a synthesized clip, DTW-aligned.

Per aligned frame pair (Kubichek 1993, the usual TTS form):

    MCD = (10 / ln 10) * sqrt(2 * sum_{k=1..K} (c_k - c'_k)^2)   [dB]

c0 (energy) is left out. The result is the mean over the frame pairs of the DTW path (or of
the first min(f1, f2) frames with align="none"). Identical clips give 0.

The cepstrum here (no WORLD/SPTK needed): the real cepstrum of the natural-log *amplitude*
spectrum on a mel-warped axis. Per frame of a Hann-window STFT, mel power
P_m = sum_j M_mj |X_j|^2 (librosa's Slaney mel filterbank, n_mels bands), log amplitude
L_m = 0.5 * ln(max(P_m, 1e-10)), and

    c_k = DCT-II(L)_k / (2 * n_mels) = (1 / n_mels) * sum_m L_m cos(pi k (m + 1/2) / n_mels),

the midpoint-rule value of (1/pi) * integral_0^pi L(w) cos(kw) dw: the same scale as SPTK's
mel-cepstrum, so the 10/ln10 * sqrt(2 ...) formula gives dB as in the literature. Numbers are
comparable across runs of this class with the same settings, not to MCDs from WORLD mcep.
Axes: n samples, f frames, m mel bands, k cepstral coefficients.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from kokoro_lab.audio.checks import resample
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError

POWER_FLOOR = 1e-10  # -100 dB: keeps log finite in digital silence
MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)
Align = Literal["dtw", "none"]


def dtw_path(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x (f1, k), y (f2, k) -> (p, 2) index pairs of the minimum total Euclidean-cost path,
    steps (1,1), (1,0), (0,1), from (0, 0) to (f1-1, f2-1)."""
    import librosa

    _, path = librosa.sequence.dtw(X=x.T, Y=y.T, metric="euclidean", backtrack=True)
    return path[::-1]


class MelCepstralDistortion:
    """MCD in dB (see the module docstring). Clips are resampled to `sample_rate` first.

    Defaults suit 24 kHz speech: 1024-point FFT (43 ms), 10 ms hop, 80 mel bands, K = 24.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = 1024,
        hop_length: int = 240,
        n_mels: int = 80,
        n_coeffs: int = 24,
        fmin: float = 0.0,
        fmax: float | None = None,
        align: Align = "dtw",
    ):
        if not 1 <= n_coeffs < n_mels:
            raise UserValueError(f"n_coeffs must be in [1, n_mels={n_mels}), got {n_coeffs}")
        if align not in ("dtw", "none"):
            raise UserValueError(f"align must be 'dtw' or 'none', got {align!r}")
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mels, self.n_coeffs, self.fmin, self.fmax = n_mels, n_coeffs, fmin, fmax
        self.align = align
        self._mel_basis: np.ndarray | None = None  # (m, n_fft/2 + 1), built on first use

    def mel_basis(self) -> np.ndarray:
        if self._mel_basis is None:
            import librosa

            self._mel_basis = librosa.filters.mel(
                sr=self.sample_rate,
                n_fft=self.n_fft,
                n_mels=self.n_mels,
                fmin=self.fmin,
                fmax=self.fmax,
            )
        return self._mel_basis

    def mel_cepstrum(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """audio (n,) at sample_rate -> cepstra (f, K + 1), c0..cK, f = 1 + n' // hop_length
        where n' is the length at self.sample_rate."""
        import librosa
        import scipy.fft

        x = resample(audio, sample_rate, self.sample_rate)
        spec = np.abs(librosa.stft(x, n_fft=self.n_fft, hop_length=self.hop_length)) ** 2
        log_amplitude = 0.5 * np.log(np.maximum(self.mel_basis() @ spec, POWER_FLOOR))  # (m, f)
        ceps = scipy.fft.dct(log_amplitude, type=2, axis=0, norm=None) / (2 * self.n_mels)
        return ceps[: self.n_coeffs + 1].T

    def frame_pairs(self, ref: np.ndarray, hyp: np.ndarray) -> np.ndarray:
        """ref (f1, k), hyp (f2, k) features -> (p, 2) aligned frame index pairs."""
        if self.align == "dtw":
            return dtw_path(ref, hyp)
        n = min(len(ref), len(hyp))
        return np.stack([np.arange(n), np.arange(n)], axis=1)

    def __call__(self, reference: np.ndarray, synthesized: np.ndarray, sample_rate: int) -> float:
        """reference (n1,), synthesized (n2,) at sample_rate -> mean MCD in dB over the path."""
        ref = self.mel_cepstrum(reference, sample_rate)[:, 1:]
        hyp = self.mel_cepstrum(synthesized, sample_rate)[:, 1:]
        pairs = self.frame_pairs(ref, hyp)
        diff = ref[pairs[:, 0]] - hyp[pairs[:, 1]]
        return float(MCD_SCALE * np.sqrt((diff**2).sum(axis=1)).mean())
