"""Float32 convolutions on channels-last data: the layout oneDNN's fastest CPU kernels read.

Axes: b batch, c input channels, o output channels, k kernel taps, t steps.

A (b, c, t) tensor in PyTorch's default layout keeps each channel's steps together; oneDNN's
brgemm convolutions want each step's channels together, so `F.conv1d` on it reorders the input
and output of every call (or runs a slower kernel). Measured on the generator's shapes (2 threads,
AVX512 with bf16/VNNI, glibc malloc thresholds raised): 128 channels x 14400 steps, k 3 / 7 / 11,
10-20% faster channels-last; 256 x 2400 about 10%; results equal to float rounding (relative L2
~3e-7 per convolution).

`ChannelsLastConv1d` runs a convolution as a 2-D one over a (b, c, 1, t) channels-last view and
returns a (b, o, t) tensor whose memory is laid out (b, t, o). Elementwise ops keep that layout,
so a chain of them (Snake, AdaIN, residual adds) stays channels-last without copies. Used by the
compiled generator (acceleration/compiled.py), where Inductor fuses the glue between the
convolutions: in eager mode the gain is ~1-4% end to end, so `exact` keeps the default layout and
its bit-exact parity with the official model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.acceleration.int8_conv import _first
from kokoro_lab.modules.weight_norm import WNConv1d


class ChannelsLastConv1d(nn.Module):
    """A float Conv1d on channels-last memory: x (b, c, t) -> (b, o, t'), laid out (b, t', o)."""

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
    ):
        """`weight` (o, c / groups, k): the convolution's effective weight (weight norm folded)."""
        super().__init__()
        w = rearrange(weight.detach(), "o c k -> o c 1 k").contiguous(
            memory_format=torch.channels_last
        )
        self.register_buffer("weight", w)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.stride, self.padding, self.dilation = (1, stride), (0, padding), (1, dilation)
        self.groups = groups

    @classmethod
    def from_conv(cls, conv: nn.Module) -> ChannelsLastConv1d:
        """From an nn.Conv1d or a WNConv1d (its effective weight)."""
        weight = conv.weight() if callable(conv.weight) else conv.weight
        return cls(
            weight,
            conv.bias,
            _first(conv.stride),
            _first(conv.padding),
            _first(conv.dilation),
            conv.groups,
        )

    def forward(self, x: Tensor) -> Tensor:
        x = rearrange(x, "b c t -> b c 1 t").contiguous(memory_format=torch.channels_last)
        w, b = self.weight, self.bias
        y = F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)
        # a 1x1 kernel at batch 1 can come back channels-first (torch reads its layout as
        # ambiguous): one copy keeps what follows in the layout of the rest
        y = y.contiguous(memory_format=torch.channels_last)
        return rearrange(y, "b o 1 t -> b o t")

    def extra_repr(self) -> str:
        o, c, _, k = self.weight.shape
        return (
            f"{c * self.groups}, {o}, kernel_size={k}, stride={self.stride[1]}, "
            f"padding={self.padding[1]}, dilation={self.dilation[1]}, channels-last"
        )


def to_channels_last(module: nn.Module) -> int:
    """Replace every float WNConv1d / nn.Conv1d below `module` by a ChannelsLastConv1d, in place
    (weight norm must be folded first); returns how many. Int8 convolutions are left as they are."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, (WNConv1d, nn.Conv1d)):
            setattr(module, name, ChannelsLastConv1d.from_conv(child))
            count += 1
        else:
            count += to_channels_last(child)
    return count
