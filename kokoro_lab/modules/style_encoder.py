"""Style encoders: a mel segment -> one half of a voicepack row (StyleTTS 2, Li et al. 2023).

Axes: b batch, m mel bins, F mel frames, c channels, s style (one half of a row).

Kokoro released voicepacks, not the encoders that made them. StyleTTS 2 trains two copies of one
architecture: the acoustic `style_encoder` (the decoder half of a row, timbre) and the prosodic
`predictor_encoder` (the prosody half). Both read a normalized log-mel as a 1-channel image:
a 3x3 conv, four residual blocks that halve both axes, a 5x5 conv, a global average and a linear
map (`StyleEncoder` in yl4579/StyleTTS2 models.py; spectral norm is left out: these encoders are
trained by reconstruction only, not adversarially).

`start_from(style)` zeroes the output map and sets its bias to a given style, so a freshly built
encoder first outputs exactly that style: fine-tuning the pretrained model then starts from a
voice its decoder already speaks instead of from random styles it has never seen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

LEAKY_SLOPE = 0.2
#: Mel frames the encoder needs: four 2x reductions then a 5-wide valid conv.
MIN_FRAMES = 80


class DownResBlock(nn.Module):
    """x (b, c_in, m, F) -> (b, c_out, m/2, F/2): (shortcut + residual) / sqrt(2)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        # StyleTTS 2's learned downsampler: a depthwise strided 3x3 conv on the residual path.
        self.downsample_res = nn.Conv2d(dim_in, dim_in, 3, stride=2, padding=1, groups=dim_in)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, bias=False) if dim_in != dim_out else None

    def _shortcut(self, x: Tensor) -> Tensor:
        x = self.conv1x1(x) if self.conv1x1 is not None else x
        return F.avg_pool2d(x, 2)

    def _residual(self, x: Tensor) -> Tensor:
        x = self.conv1(F.leaky_relu(x, LEAKY_SLOPE))
        x = self.downsample_res(x)
        return self.conv2(F.leaky_relu(x, LEAKY_SLOPE))

    def forward(self, x: Tensor) -> Tensor:
        s = self._shortcut(x)
        r = self._residual(x)[..., : s.shape[-2], : s.shape[-1]]
        return (s + r) / math.sqrt(2)


class StyleEncoder(nn.Module):
    """Normalized log-mel (b, m, F), F >= 80 -> style (b, s)."""

    def __init__(
        self, style_dim: int = 128, channels: int = 64, max_channels: int = 512, blocks: int = 4
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, channels, 3, 1, 1)]
        dim = channels
        for _ in range(blocks):
            dim_out = min(dim * 2, max_channels)
            layers.append(DownResBlock(dim, dim_out))
            dim = dim_out
        self.shared = nn.Sequential(*layers)
        self.post = nn.Conv2d(dim, dim, 5, 1, 0)
        self.unshared = nn.Linear(dim, style_dim)

    def forward(self, mel: Tensor) -> Tensor:
        if mel.shape[-1] < MIN_FRAMES:
            raise ValueError(
                f"the style encoder needs at least {MIN_FRAMES} mel frames (1 s), got "
                f"{mel.shape[-1]}: use longer clips or segments"
            )
        h = self.shared(rearrange(mel, "b m f -> b 1 m f"))
        h = self.post(F.leaky_relu(h, LEAKY_SLOPE))
        h = F.leaky_relu(h.mean(dim=(-2, -1)), LEAKY_SLOPE)
        return self.unshared(h)

    @torch.no_grad()
    def start_from(self, style: Tensor) -> None:
        """Output exactly `style` (s,) for every input until training moves it."""
        self.unshared.weight.zero_()
        self.unshared.bias.copy_(style.reshape(-1))
