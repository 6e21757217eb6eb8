"""Waveform discriminators for adversarial training, as StyleTTS 2 uses them.

Axes: b batch, n samples, p period, k frequency bins, f frames, c channels.

- Multi-period (HiFi-GAN, Kong et al. 2020): the waveform folded to (n / p, p) for p in 2, 3, 5,
  7, 11, each seen by a stack of (5, 1) convs, so each sub-discriminator judges one periodicity.
- Multi-resolution spectrogram (UnivNet, Jang et al. 2021; StyleTTS 2's
  `MultiResSpecDiscriminator`): linear STFT magnitudes at three resolutions, each seen by 2-D
  convs.

Each sub-discriminator returns its score map and the feature maps feature matching compares.
Widths are arguments so the tiny test config stays cheap; defaults are the published sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

LEAKY_SLOPE = 0.1
Output = tuple[Tensor, list[Tensor]]


class PeriodDiscriminator(nn.Module):
    """audio (b, n) -> score (b, f * p) and feature maps, looking at period p."""

    def __init__(self, period: int, channels: Sequence[int] = (32, 128, 512, 1024, 1024)):
        super().__init__()
        self.period = period
        dims = [1, *channels]
        self.convs = nn.ModuleList(
            weight_norm(
                nn.Conv2d(
                    dims[i], dims[i + 1], (5, 1), (3, 1) if i + 2 < len(dims) else 1, padding=(2, 0)
                )
            )
            for i in range(len(channels))
        )
        self.conv_post = weight_norm(nn.Conv2d(dims[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, audio: Tensor) -> Output:
        n = audio.shape[-1]
        pad = (-n) % self.period
        x = F.pad(audio, (0, pad), mode="reflect") if pad else audio
        x = rearrange(x, "b (f p) -> b 1 f p", p=self.period)
        fmaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            fmaps.append(x)
        x = self.conv_post(x)
        fmaps.append(x)
        return rearrange(x, "b 1 f p -> b (f p)"), fmaps


class SpectrogramDiscriminator(nn.Module):
    """audio (b, n) -> score map and feature maps from one STFT resolution."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
            ]
        )
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, audio: Tensor) -> Output:
        with torch.autocast(audio.device.type, enabled=False):
            spec = torch.stft(
                audio.float(),
                self.n_fft,
                self.hop_length,
                self.win_length,
                window=self.window,
                return_complex=True,
            ).abs()
        x = rearrange(spec, "b k f -> b 1 f k")
        fmaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            fmaps.append(x)
        x = self.conv_post(x)
        fmaps.append(x)
        return rearrange(x, "b 1 f k -> b (f k)"), fmaps


class Discriminators(nn.Module):
    """Multi-period + multi-resolution: audio (b, n) -> [(score, feature maps)] per member."""

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        period_channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        resolutions: Sequence[Sequence[int]] = (
            (1024, 120, 600),
            (2048, 240, 1200),
            (512, 50, 240),
        ),
        spectrogram_channels: int = 32,
    ):
        super().__init__()
        self.mpd = nn.ModuleList(PeriodDiscriminator(p, period_channels) for p in periods)
        self.mrd = nn.ModuleList(
            SpectrogramDiscriminator(n, h, w, spectrogram_channels) for n, h, w in resolutions
        )

    def forward(self, audio: Tensor) -> list[Output]:
        return [d(audio) for d in (*self.mpd, *self.mrd)]
