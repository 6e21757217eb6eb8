"""Convolution by FFT (overlap-save): fewer multiplies for wide dilated kernels, exact to rounding.

Axes: b batch, c input channels, o output channels, k kernel taps, t steps, n blocks, f frequency
bins, s block length (samples).

A dilated kernel of k taps spans d (k - 1) + 1 steps; direct convolution costs 2 k c o
multiply-adds per output step whatever the dilation, the FFT route about 8 c o / (1 - span / s)
per step (one complex multiply-add per bin and channel pair, real FFT) plus the transforms, so on
paper it pays from k of about 5 up, more with dilation's long spans. Whether it pays on a real CPU
against oneDNN's direct kernels is measured per shape by scripts/measure_fast_conv.py, and
docs/benchmarks.md records the answer; the complex products run as three real matmuls (Gauss's
trick) so the work lands in the BLAS, not in complex elementwise loops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor


def _block_length(span: int, steps: int) -> int:
    """An FFT length: a power of two, at least 4 spans and at most covering the input once."""
    s = 1 << max(span * 4 - 1, 1).bit_length()
    return max(min(s, 1 << (steps + span - 1).bit_length()), 2 * span)


def weight_spectrum(weight: Tensor, dilation: int, block: int) -> tuple[Tensor, Tensor, Tensor]:
    """weight (o, c, k) -> its time-reversed dilated kernel's spectrum at FFT length `block`, as
    the three real matrices Gauss's product uses: (real, imag, real + imag), each (f, c, o).
    Constant for a given weight: compute it once (FFTConv1d does)."""
    o, c, k = weight.shape
    span = dilation * (k - 1) + 1
    dilated = weight.new_zeros(o, c, span)
    dilated[:, :, ::dilation] = weight
    # correlation (what conv1d computes) = convolution with the time-reversed kernel
    spec = torch.fft.rfft(torch.flip(dilated, [-1]), n=block)  # (o, c, f)
    wr = rearrange(spec.real, "o c f -> f c o").contiguous()
    wi = rearrange(spec.imag, "o c f -> f c o").contiguous()
    return wr, wi, wr + wi


def fft_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    padding: int,
    dilation: int = 1,
    block: int | None = None,
    spectrum: tuple[Tensor, Tensor, Tensor] | None = None,
) -> Tensor:
    """F.conv1d(x, weight, bias, 1, padding, dilation) by overlap-save FFT:
    x (b, c, t), weight (o, c, k) -> (b, o, t + 2 padding - span + 1); `block` the FFT length
    (default: _block_length), `spectrum` the weight's at that length (weight_spectrum)."""
    o, c, k = weight.shape
    span = dilation * (k - 1) + 1
    x = F.pad(x, (padding, padding))
    steps = x.shape[-1]
    out_len = steps - span + 1
    s = block or _block_length(span, steps)
    hop = s - span + 1  # valid outputs per block
    blocks = -(-out_len // hop)
    # blocks of s samples starting every hop: (b, c, n, s); the padded length is
    # blocks * hop + span - 1, so exactly `blocks` frames fit
    x = F.pad(x, (0, blocks * hop + span - 1 - steps))
    frames = x.unfold(-1, s, hop)
    wr, wi, wsum = spectrum or weight_spectrum(weight, dilation, s)
    spec_x = torch.fft.rfft(frames, n=s)  # (b, c, n, f)
    xr = rearrange(spec_x.real, "b c n f -> f (b n) c")
    xi = rearrange(spec_x.imag, "b c n f -> f (b n) c")
    # (xr + i xi)(wr + i wi) with three real matmuls
    t1 = torch.bmm(xr, wr)
    t2 = torch.bmm(xi, wi)
    t3 = torch.bmm(xr + xi, wsum)
    spec_y = torch.complex(t1 - t2, t3 - t1 - t2)  # (f, b n, o)
    spec_y = rearrange(spec_y, "f (b n) o -> b o n f", b=frames.shape[0])
    y = torch.fft.irfft(spec_y, n=s)[..., span - 1 :]  # (b, o, n, hop): the valid part
    y = rearrange(y, "b o n h -> b o (n h)")[..., :out_len]
    return y if bias is None else y + bias[:, None]
