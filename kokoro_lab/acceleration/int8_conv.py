"""Convolutions in int8: int8 weights per output channel, uint8 activations quantized per call.

Axes: b batch, c input channels, o output channels, k kernel taps, t steps.

What onnxruntime's ConvInteger does for kokoro-onnx's int8 file, on oneDNN's int8 convolution
(the VNNI/AMX kernels that multiply u8 x s8 in one instruction; on an AVX2-only CPU oneDNN still
runs a real, slower int8 kernel). The weights are quantized once, symmetrically per output channel
(scale = max |w| / 127); the activations per call, asymmetrically per tensor over the whole batch
(scale and zero point from their min and max, the range always holding 0 so zero padding stays
exact), and oneDNN writes float32 straight out: no quantized tensor types (deprecated in torch
2.13, pytorch#184982), only plain uint8/int8 tensors and the `torch.ops.onednn` ops that torch's
own x86 Inductor quantization lowers to.

The per-call quantization is a handful of in-place passes (a few ms on a 128 x 24000 input
against ~30 ms for the int8 convolution and ~80 ms for float32 on one AVX512-VNNI core), fused
into one under torch.compile: scale and zero point stay tensors (`qconv_pointwise.tensor`), so
nothing waits on a Python number. Its rounding makes each convolution's output differ from
float32 by about 1.5% (relative L2, measured on random inputs); items of a batch share one
activation scale, so a batched item differs slightly from the same item alone.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

#: The int8 weight range, symmetric (-127..127: -128 unused, as onnxruntime and oneDNN expect).
WEIGHT_MAX = 127
#: The uint8 activation range.
ACT_LEVELS = 255


def quantize_weight(weight: Tensor) -> tuple[Tensor, Tensor]:
    """weight (o, c, k) float -> (int8 codes (o, c, k), float32 scales (o,)), w = codes * scale;
    an all-zero row gets scale 1."""
    peak = weight.detach().abs().amax(dim=(1, 2)).float()
    scale = torch.where(peak > 0, peak / WEIGHT_MAX, torch.ones_like(peak))
    codes = torch.round(weight.detach().float() / scale[:, None, None])
    return codes.clamp(-WEIGHT_MAX, WEIGHT_MAX).to(torch.int8), scale


def quantize_activations(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """x (b, c, ...) float32 -> (uint8 codes of x's shape, scale (), zero point () int64),
    x ~ (codes - zp) * scale, with 0 exactly representable. Tensors, not Python numbers: no
    host round trip, so torch.compile can trace it whole and fuse it with what comes before."""
    lo, hi = torch.aminmax(x)
    lo, hi = lo.clamp(max=0.0), hi.clamp(min=0.0)
    scale = torch.where(hi > lo, (hi - lo) / ACT_LEVELS, torch.ones_like(hi))
    zero_point = torch.round(-lo / scale)
    codes = torch.mul(x, 1.0 / scale).add_(zero_point).round_().clamp_(0, ACT_LEVELS)
    return codes.to(torch.uint8), scale, zero_point.long()


def _first(value: int | tuple[int, ...]) -> int:
    """nn.Conv1d keeps stride, padding and dilation as 1-tuples; WNConv1d as ints."""
    return value[0] if isinstance(value, tuple) else value


class Int8Conv1d(nn.Module):
    """A float Conv1d's weights in int8: x (b, c, t) float32 -> (b, o, t') float32."""

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
    ):
        """`weight` (o, c, k): the float convolution's effective weight (weight norm folded)."""
        super().__init__()
        codes, scale = quantize_weight(weight)
        self.register_buffer("weight_codes", codes)
        self.register_buffer("weight_scale", scale)
        self.register_buffer("weight_zero_point", torch.zeros(len(scale), dtype=torch.int64))
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        # as a 2-D convolution over (b, c, 1, t): see _pack
        self.stride, self.padding, self.dilation = [1, stride], [0, padding], [1, dilation]
        # Packed here, not on first use: forward then only reads it, so torch.compile traces
        # the whole generator as one graph (a lazy pack would break the graph at each conv).
        self._packed = self._pack()

    @classmethod
    def from_conv(cls, conv: nn.Module) -> Int8Conv1d:
        """From an nn.Conv1d or a WNConv1d (its effective weight), groups 1."""
        if conv.groups != 1:
            raise ValueError(f"Int8Conv1d takes groups=1 convolutions, not groups={conv.groups}")
        weight = conv.weight() if callable(conv.weight) else conv.weight
        return cls(
            weight, conv.bias, _first(conv.stride), _first(conv.padding), _first(conv.dilation)
        )

    def dequantized_weight(self) -> Tensor:
        """The weight this convolution multiplies by, in float32 (o, c, k)."""
        return self.weight_codes.float() * self.weight_scale[:, None, None]

    def _pack(self) -> Tensor:
        """The weight in oneDNN's blocked int8 layout (packed once, for any input shape), as a
        (o, c, 1, k) 2-D kernel: torch's shape function for this op reads a packed 1-D kernel's
        width as 1 (wrong lengths under torch.compile), a 2-D one's right."""
        return torch.ops.onednn.qconv_prepack(
            rearrange(self.weight_codes, "o c k -> o c 1 k"),
            self.weight_scale,
            1.0,  # the activation scale and zero point are given per call (not baked in)
            0,
            self.stride,
            self.padding,
            self.dilation,
            1,
            None,
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (b, c, t) -> (b, o, t'), laid out (b, t', o) in memory (oneDNN's int8 output)."""
        codes, scale, zero_point = quantize_activations(rearrange(x.float(), "b c t -> b c 1 t"))
        y = torch.ops.onednn.qconv_pointwise.tensor(
            codes,
            scale,
            zero_point,
            self._packed,
            self.weight_scale,
            self.weight_zero_point,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            1,
            1.0,  # output scale and zero point: unused for a float32 output
            0,
            torch.float32,
            "none",
            [],
            "",
        )
        return rearrange(y, "b o 1 t -> b o t")

    def extra_repr(self) -> str:
        o, c, k = self.weight_codes.shape
        return (
            f"{c}, {o}, kernel_size={k}, stride={self.stride[1]}, padding={self.padding[1]}, "
            f"dilation={self.dilation[1]}, int8 weights per channel, uint8 activations per call"
        )
