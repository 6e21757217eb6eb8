"""The conv STFT with a phase that ONNX runtimes compute as torch does.

Axes: b batch, n samples, k frequency bins, f frames.

torch.onnx writes `torch.atan2` as Atan(y / x) plus corrections that ignore the sign of zero and
return NaN at (0, 0). The STFT's DC bin has an imaginary part of exactly +-0, so its phase came
out -pi where torch says +pi: a systematic error on one of the generator's input channels that
made onnxruntime's audio drift from torch's far beyond float noise. `atan2` below keeps torch's
conventions (signed zeros, atan2(0, +-0) = 0) in operations every runtime has, and the DC and
Nyquist bins get exactly zero imaginary parts, as from torch.stft.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from kokoro_lab.modules.stft import ConvSTFT


def atan2(y: Tensor, x: Tensor) -> Tensor:
    """torch.atan2(y, x) from Atan, Div and Where; exact at signed zeros, 0 at (0, 0)."""
    negative = (y < 0) | ((y == 0) & (torch.reciprocal(y) < 0))  # the sign bit of y, -0 included
    half_turn = torch.where(negative, -math.pi, math.pi)
    base = torch.atan(y / torch.where(x == 0, torch.ones_like(x), x))
    on_axis = torch.where(y == 0, torch.zeros_like(y), half_turn / 2)  # x == 0: +-pi/2 or 0
    return torch.where(x > 0, base, torch.where(x < 0, base + half_turn, on_axis))


class ExportConvSTFT(ConvSTFT):
    """ConvSTFT whose `transform` gives torch.stft's phase; `inverse` is ConvSTFT's (its window
    envelope is built from the frame count at run time, so any length is normalized right).

    The imaginary kernels of the DC and Nyquist bins are exactly zero (sin(0), sin(pi n)), as
    torch.stft's imaginary parts there are; in float64 -> float32 the Nyquist row holds residues
    of 1e-16 whose random signs turned its phase into -pi or +pi where torch says +pi (or 0).
    """

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__(n_fft, hop_length)
        bins = n_fft // 2 + 1
        real_bins = [0, bins - 1] if n_fft % 2 == 0 else [0]  # DC (and Nyquist): real spectra
        for k in real_bins:
            self.forward_basis[bins + k] = 0.0

    def transform(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (b, n) -> magnitude, phase (b, k, f)."""
        pad = self.n_fft // 2
        x = F.pad(rearrange(x, "b n -> b 1 n"), (pad, pad), mode="reflect")
        re, im = F.conv1d(x, self.forward_basis.to(x.dtype), stride=self.hop_length).chunk(2, 1)
        return torch.sqrt(re.square() + im.square()), atan2(im, re)
