"""Short-time Fourier transforms for the iSTFT head. Axes: b batch, n samples, k frequency bins,
f frames.

Two implementations with one interface (`transform` -> magnitude, phase; `inverse`):
- `TorchSTFT`: torch.stft / torch.istft (complex ops), as the official model runs by default.
- `ConvSTFT`: real-valued conv1d / conv_transpose1d with windowed DFT kernels, for ONNX export
  and runtimes without complex tensors. Reflect padding and the exact window-envelope division
  of torch.istft are kept, so both agree to float precision (see tests/test_stft.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


class TorchSTFT(nn.Module):
    """Hann-window STFT with center padding (reflect), via torch.stft."""

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def transform(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (b, n) -> magnitude, phase (b, k, f) with k = n_fft/2 + 1, f = n/hop + 1."""
        spec = torch.stft(
            x, self.n_fft, self.hop_length, window=self.window.to(x.dtype), return_complex=True
        )
        return spec.abs(), spec.angle()

    def inverse(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        """magnitude, phase (b, k, f) -> audio (b, hop * (f - 1))."""
        spec = torch.polar(magnitude, phase)
        return torch.istft(spec, self.n_fft, self.hop_length, window=self.window.to(magnitude))


class ConvSTFT(nn.Module):
    """The same transform as TorchSTFT from real convolutions only."""

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        bins = n_fft // 2 + 1
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(bins, dtype=torch.float64)
        angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft  # (k, n_fft)
        # Forward DFT rows, windowed: X_k = sum_n w[n] x[n] e^{-i angle}.
        fwd = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window
        # Inverse real DFT: interior bins count twice (Hermitian symmetry), DC and Nyquist once.
        scale = torch.full((bins,), 2.0, dtype=torch.float64)
        scale[0] = 1.0
        if n_fft % 2 == 0:
            scale[-1] = 1.0
        inv_re = torch.cos(angle) * scale[:, None] / n_fft * window
        inv_im = -torch.sin(angle) * scale[:, None] / n_fft * window
        self.register_buffer("forward_basis", rearrange(fwd, "k n -> k 1 n").float(), False)
        self.register_buffer(
            "inverse_basis", rearrange(torch.cat([inv_re, inv_im]), "k n -> k 1 n").float(), False
        )
        self.register_buffer("window_sq", rearrange(window.square(), "n -> 1 1 n").float(), False)

    def transform(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (b, n) -> magnitude, phase (b, k, f)."""
        pad = self.n_fft // 2
        x = F.pad(rearrange(x, "b n -> b 1 n"), (pad, pad), mode="reflect")
        re, im = F.conv1d(x, self.forward_basis.to(x.dtype), stride=self.hop_length).chunk(2, 1)
        return torch.sqrt(re.square() + im.square()), torch.atan2(im, re)

    def inverse(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        """magnitude, phase (b, k, f) -> audio (b, hop * (f - 1)), over the window envelope."""
        spec = torch.cat([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=1)
        frames = spec.shape[-1]
        y = F.conv_transpose1d(spec, self.inverse_basis.to(spec.dtype), stride=self.hop_length)
        ones = torch.ones(1, 1, frames, dtype=spec.dtype, device=spec.device)
        envelope = F.conv_transpose1d(ones, self.window_sq.to(spec.dtype), stride=self.hop_length)
        pad = self.n_fft // 2
        y = y[..., pad:-pad] / envelope[..., pad:-pad]
        return rearrange(y, "b 1 n -> b n")
