"""Acoustic features for training: log-mel spectrogram, energy N and F0, with the settings hashed.

Axes: b batch, n samples, m mel bins, F mel frames (300 samples = 12.5 ms at 24 kHz).

The mel settings are StyleTTS 2's and so Kokoro's (yl4579/StyleTTS2 meldataset.py: torchaudio
`MelSpectrogram(n_mels=80, n_fft=2048, win_length=1200, hop_length=300)`, i.e. a power
spectrogram on HTK mel filters without area normalization, reflect-centred frames), stored as
natural-log power `log(1e-5 + mel)`. The energy N the decoder is conditioned on is StyleTTS 2's
`log_norm`: the log of the L2 norm over mel bins of the (linear) mel power, so that a dataset's N
is in the units the pretrained Kokoro decoder saw. F0 is librosa's pyin in Hz (0 where unvoiced),
standing in for StyleTTS 2's JDC pitch extractor, at the mel frame rate.

One mel frame is half a Kokoro duration frame (600 samples), exactly the rate at which the
prosody predictor emits F0 and N, so a clip of f duration frames has 2f mel frames, F0 and N
values and 600 f samples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.config import SAMPLE_RATE

#: Floor inside the log: StyleTTS 2's `log(1e-5 + mel)`.
LOG_FLOOR = 1e-5
#: StyleTTS 2 normalizes log-mels as (x - MEAN) / STD before its encoders.
MEL_MEAN, MEL_STD = -4.0, 4.0
#: Bump when the feature code changes meaning, so old caches are not reused.
FEATURE_VERSION = 1


@dataclass(frozen=True)
class FeatureSettings:
    """Everything a cached feature depends on; `digest()` names the cache directory."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 2048
    win_length: int = 1200
    hop_length: int = 300
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None
    f0_min: float = 50.0
    f0_max: float = 600.0
    f0_frame_length: int = 2048
    version: int = FEATURE_VERSION

    def digest(self) -> str:
        """12 hex digits of SHA-256 over the settings: a new setting means a new cache."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class LogMelSpectrogram(nn.Module):
    """audio (b, n) -> log mel power (b, m, n // hop + 1), StyleTTS 2 settings by default."""

    def __init__(self, settings: FeatureSettings | None = None, **overrides):
        super().__init__()
        import librosa

        s = settings or FeatureSettings()
        self.n_fft = overrides.get("n_fft", s.n_fft)
        self.win_length = overrides.get("win_length", s.win_length)
        self.hop_length = overrides.get("hop_length", s.hop_length)
        n_mels = overrides.get("n_mels", s.n_mels)
        fb = librosa.filters.mel(
            sr=s.sample_rate,
            n_fft=self.n_fft,
            n_mels=n_mels,
            fmin=s.f_min,
            fmax=s.f_max,
            htk=True,
            norm=None,
        )
        self.register_buffer("filters", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def power(self, audio: Tensor) -> Tensor:
        """audio (b, n) -> linear mel power (b, m, F). Always float32 (STFT under autocast)."""
        with torch.autocast(audio.device.type, enabled=False):
            spec = torch.stft(
                audio.float(),
                self.n_fft,
                self.hop_length,
                self.win_length,
                window=self.window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )
            return torch.einsum("mk,bkf->bmf", self.filters, spec.abs().square())

    def forward(self, audio: Tensor) -> Tensor:
        return torch.log(LOG_FLOOR + self.power(audio))


def energy_from_log_mel(log_mel: Tensor) -> Tensor:
    """log mel (b, m, F) -> energy N (b, F): StyleTTS 2's `log_norm`, log ||exp(log_mel)||_2."""
    return 0.5 * torch.logsumexp(2 * log_mel, dim=1)


def normalize_log_mel(log_mel: Tensor) -> Tensor:
    """Log mel -> the zero-centred scale StyleTTS 2's encoders read."""
    return (log_mel - MEL_MEAN) / MEL_STD


def pitch(audio: np.ndarray, settings: FeatureSettings, frames: int) -> np.ndarray:
    """audio (n,) -> F0 (frames,) in Hz with pyin, 0 where unvoiced, at the mel hop."""
    import librosa

    f0, voiced, _ = librosa.pyin(
        audio.astype(np.float32),
        fmin=settings.f0_min,
        fmax=settings.f0_max,
        sr=settings.sample_rate,
        frame_length=settings.f0_frame_length,
        hop_length=settings.hop_length,
        center=True,
    )
    f0 = np.where(voiced & np.isfinite(f0), f0, 0.0).astype(np.float32)
    out = np.zeros(frames, dtype=np.float32)
    out[: min(frames, len(f0))] = f0[:frames]
    return out


def clip_features(
    audio: np.ndarray, settings: FeatureSettings, mel: LogMelSpectrogram
) -> dict[str, Tensor]:
    """audio (n,) at the training rate -> {audio (600 f,), mel (m, 2f), f0 (2f,)}.

    The clip is cut to a whole number f of duration frames (at most 599 samples dropped), so
    every feature lines up with Kokoro's frames.
    """
    frame = 2 * settings.hop_length
    f = len(audio) // frame
    x = torch.from_numpy(np.ascontiguousarray(audio[: f * frame], dtype=np.float32))
    log_mel = mel(rearrange(x, "n -> 1 n"))[0, :, : 2 * f]
    f0 = torch.from_numpy(pitch(x.numpy(), settings, 2 * f))
    return {"audio": x, "mel": log_mel.contiguous(), "f0": f0}
