"""Deterministic excitation noise for the exported graph.

Axes: b batch, n samples, h harmonics (fundamental + 8), p table period.

The hn-NSF source (modules/source.py) adds Gaussian noise: std 0.003 where voiced, 0.033 where
unvoiced (what fricatives and breath are built from). kokoro-onnx's graph draws it with
RandomNormalLike, so the same input gives different audio on every call, and no test can compare
it with torch. Zero noise would be deterministic but removes the unvoiced excitation the decoder
was trained on. We keep the noise and make it a function of the sample position: one seeded
Gaussian table (p, h), tiled over the utterance. The same table in torch (`TabledSineGen` swapped
into a copy of the model) gives the torch reference exactly the noise the graph has.
"""

from __future__ import annotations

import copy

import torch
from einops import repeat
from torch import Tensor

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.source import NoiseGenerator, SineGen

#: Table length: 2 s. Unvoiced stretches are far shorter, so the repetition is never heard; the
#: table costs 48000 x 9 floats (1.7 MB) in each exported file.
NOISE_PERIOD = 2 * SAMPLE_RATE
NOISE_SEED = 0


class TabledSineGen(SineGen):
    """SineGen whose noise is `table[n % p]` instead of a fresh draw: F0 (b, f) -> sines, uv."""

    def __init__(self, source: SineGen, period: int = NOISE_PERIOD, seed: int = NOISE_SEED):
        super().__init__(
            source.sample_rate,
            source.upsample_scale,
            source.dim - 1,
            source.sine_amp,
            source.noise_std,
            source.voiced_threshold,
        )
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("noise_table", torch.randn(period, self.dim, generator=g), False)

    def _noise(self, shape: tuple[int, int, int], like: Tensor, generator: NoiseGenerator):
        """(b, n, h) standard Gaussian noise, the same for every call; `generator` is unused."""
        b, n, _ = shape
        # Positions counted from the tensor itself, so an ONNX trace keeps n dynamic.
        position = torch.cumsum(torch.ones_like(like[0, :, 0], dtype=torch.long), 0) - 1
        table = self.noise_table.to(like.dtype)
        return repeat(table[position % table.shape[0]], "n h -> b n h", b=b)


def with_tabled_noise(model: KokoroModel) -> KokoroModel:
    """A copy of `model` whose excitation noise is the export's table (the model is unchanged)."""
    out = copy.deepcopy(model)
    source = out.decoder.generator.m_source
    source.l_sin_gen = TabledSineGen(source.l_sin_gen)
    return out
