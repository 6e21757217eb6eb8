"""The StyleTTS 2 AdaIN residual block used by the prosody predictor and the decoder.

Axes: b batch, c channels, t frames, s style. Follows `AdainResBlk1d` of yl4579/StyleTTS2
(Modules/istftnet.py): out = (residual(x) + shortcut(x)) / sqrt(2), where the residual path is
AdaIN -> LeakyReLU(0.2) -> [depthwise 2x transposed conv] -> conv3 -> AdaIN -> LeakyReLU -> conv3,
and the shortcut is [nearest 2x upsample] -> [1x1 conv when the width changes].
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from kokoro_lab.modules.adain import AdaIN1d
from kokoro_lab.modules.masking import upsample_valid, zero_invalid
from kokoro_lab.modules.weight_norm import WNConv1d, WNConvTranspose1d

LEAKY_SLOPE = 0.2


class AdainResBlk1d(nn.Module):
    """x (b, c_in, t), style (b, s), valid (b, t) -> (b, c_out, t or 2t)."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        style_dim: int,
        upsample: bool = False,
        dropout_p: float = 0.0,
    ):
        super().__init__()
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = WNConv1d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = WNConv1d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN1d(style_dim, dim_in)
        self.norm2 = AdaIN1d(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = WNConv1d(dim_in, dim_out, 1, 1, 0, bias=False)
        if upsample:
            # Depthwise learned 2x upsampler (the official name is `pool`).
            self.pool = WNConvTranspose1d(
                dim_in, dim_in, 3, stride=2, padding=1, output_padding=1, groups=dim_in
            )
        self.dropout = nn.Dropout(dropout_p)

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.learned_sc else x

    def _residual(self, x: Tensor, style: Tensor, valid: Tensor | None) -> Tensor:
        x = F.leaky_relu(self.norm1(x, style, valid), LEAKY_SLOPE)
        if self.upsample:
            x = self.pool(zero_invalid(x, valid))
            valid = upsample_valid(valid, 2)
        x = self.conv1(zero_invalid(self.dropout(x), valid))
        x = F.leaky_relu(self.norm2(x, style, valid), LEAKY_SLOPE)
        return self.conv2(zero_invalid(self.dropout(x), valid))

    def forward(self, x: Tensor, style: Tensor, valid: Tensor | None = None) -> Tensor:
        x = zero_invalid(x, valid)
        return (self._residual(x, style, valid) + self._shortcut(x)) * (1 / math.sqrt(2))
