"""The harmonic-plus-noise excitation of ISTFTNet's generator (hn-NSF, Wang et al. 2019).

Axes: b batch, f frames (generator input rate), n samples, h harmonics (fundamental + 8).
Follows `SineGen` / `SourceModuleHnNSF` as used by hexgrad/kokoro istftnet.py. The official code
upsamples F0 300x (nearest), then linearly downsamples the per-sample phase increments by 300
before a cumulative sum: with nearest-held values that round trip returns each frame's value
exactly, so we integrate at frame rate and only the final phase is interpolated to samples.

Randomness (the voiced/unvoiced noise) is drawn from a caller's `torch.Generator`, in the official
order (a discarded initial-phase draw, then Gaussian noise), so a seeded generator reproduces the
official model under `torch.manual_seed` with the same seed, bit for bit in the draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

NoiseGenerator = torch.Generator | Sequence[torch.Generator] | None


class SineGen(nn.Module):
    """F0 (b, f) in Hz at frame rate -> harmonic sines (b, n, h) and voicing uv (b, n, 1)."""

    def __init__(
        self,
        sample_rate: int,
        upsample_scale: int,
        harmonic_num: int = 8,
        sine_amp: float = 0.1,
        noise_std: float = 0.003,
        voiced_threshold: float = 10.0,
    ):
        super().__init__()
        self.sample_rate = sample_rate
        self.upsample_scale = upsample_scale
        self.dim = harmonic_num + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold

    @staticmethod
    def _draw(b: int, n: int, h: int, generator: torch.Generator | None, device) -> Tensor:
        """Gaussian noise (b, n, h) drawn exactly as the official code draws it.

        The official `randn_like` fills a harmonic-major (b, h, n) buffer seen as (b, n, h);
        torch's normal_ takes its element-wise path on such a strided view, so we draw into the
        same view to get the same numbers. The preceding initial-phase draw has no effect on the
        audio (see the module docstring) but consumes the generator, so we make it too.
        """
        torch.rand(b, h, generator=generator, device=device)
        noise = torch.empty(b, h, n, device=device)
        return rearrange(noise, "b h n -> b n h").normal_(generator=generator)

    def _noise(self, shape: tuple[int, int, int], like: Tensor, generator: NoiseGenerator):
        """Gaussian noise (b, n, h), drawn per item when given one generator per item."""
        b, n, h = shape
        if isinstance(generator, Sequence):
            draws = [self._draw(1, n, h, g, g.device) for g in generator]
            return torch.cat(draws).to(like)
        dev = like.device if generator is None else generator.device
        return self._draw(b, n, h, generator, dev).to(like)

    def forward(self, f0: Tensor, generator: NoiseGenerator = None) -> tuple[Tensor, Tensor]:
        harmonics = torch.arange(1, self.dim + 1, device=f0.device, dtype=f0.dtype)
        fn = rearrange(f0, "b f -> b f 1") * harmonics  # (b, f, h)
        increments = (fn / self.sample_rate) % 1
        phase = torch.cumsum(increments, dim=1) * (2 * math.pi)
        phase = F.interpolate(
            rearrange(phase * self.upsample_scale, "b f h -> b h f"),
            scale_factor=self.upsample_scale,
            mode="linear",
        )
        sines = rearrange(torch.sin(phase), "b h n -> b n h") * self.sine_amp
        uv = (f0 > self.voiced_threshold).to(f0.dtype)
        uv = rearrange(torch.repeat_interleave(uv, self.upsample_scale, dim=1), "b n -> b n 1")
        noise_amp = uv * self.noise_std + (1 - uv) * (self.sine_amp / 3)
        noise = noise_amp * self._noise(tuple(sines.shape), sines, generator)
        return sines * uv + noise, uv


class SourceModuleHnNSF(nn.Module):
    """F0 (b, f) -> merged harmonic excitation (b, n): tanh of a learned mix of the harmonics."""

    def __init__(
        self,
        sample_rate: int,
        upsample_scale: int,
        harmonic_num: int = 8,
        voiced_threshold: float = 10.0,
    ):
        super().__init__()
        self.l_sin_gen = SineGen(
            sample_rate, upsample_scale, harmonic_num, voiced_threshold=voiced_threshold
        )
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def forward(self, f0: Tensor, generator: NoiseGenerator = None) -> Tensor:
        with torch.no_grad():
            sines, _ = self.l_sin_gen(f0, generator)
        return rearrange(torch.tanh(self.l_linear(sines)), "b n 1 -> b n")
