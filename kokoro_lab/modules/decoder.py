"""The StyleTTS 2 decoder: aligned text features + F0 + energy + style -> audio.

Axes: b batch, c channels, f alignment frames (600 samples each), s style (decoder half).
F0 and N arrive at 2f (300 samples a frame) and are brought to f by strided convs; four AdaIN
residual blocks (the last upsamples 2x) re-read the content, F0 and N at every step until the
upsample; the ISTFTNet generator turns the result into audio. Follows `Decoder` of
hexgrad/kokoro istftnet.py (the 1024 / 64 widths are `decoder_channels` / `asr_res_channels`).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.config import ISTFTNetConfig
from kokoro_lab.modules.istftnet import Generator
from kokoro_lab.modules.masking import upsample_valid, zero_invalid
from kokoro_lab.modules.residual import AdainResBlk1d
from kokoro_lab.modules.source import NoiseGenerator
from kokoro_lab.modules.weight_norm import WNConv1d


class Decoder(nn.Module):
    """asr (b, c, f), F0 (b, 2f), N (b, 2f), style (b, s), valid (b, f) -> audio (b, 600 f)."""

    def __init__(
        self,
        dim_in: int,
        style_dim: int,
        istftnet: ISTFTNetConfig,
        channels: int = 1024,
        asr_res_channels: int = 64,
        conv_stft: bool = False,
    ):
        super().__init__()
        out = istftnet.upsample_initial_channel
        skip = 2 + asr_res_channels  # F0, N and the content residual re-read by each block
        self.encode = AdainResBlk1d(dim_in + 2, channels, style_dim)
        self.decode = nn.ModuleList(
            [
                AdainResBlk1d(channels + skip, channels, style_dim),
                AdainResBlk1d(channels + skip, channels, style_dim),
                AdainResBlk1d(channels + skip, channels, style_dim),
                AdainResBlk1d(channels + skip, out, style_dim, upsample=True),
            ]
        )
        self.F0_conv = WNConv1d(1, 1, kernel_size=3, stride=2, padding=1)
        self.N_conv = WNConv1d(1, 1, kernel_size=3, stride=2, padding=1)
        self.asr_res = nn.Sequential(WNConv1d(dim_in, asr_res_channels, kernel_size=1))
        self.generator = Generator(style_dim, istftnet, conv_stft=conv_stft)

    def forward(
        self,
        asr: Tensor,
        f0: Tensor,
        n: Tensor,
        style: Tensor,
        valid: Tensor | None = None,
        generator: NoiseGenerator = None,
    ) -> Tensor:
        valid2 = upsample_valid(valid, 2)
        f0 = zero_invalid(rearrange(f0, "b f -> b 1 f"), valid2)
        f0_down = self.F0_conv(f0)
        n_down = self.N_conv(zero_invalid(rearrange(n, "b f -> b 1 f"), valid2))
        x = self.encode(torch.cat([asr, f0_down, n_down], dim=1), style, valid)
        asr_res = self.asr_res(asr)
        v, rereading = valid, True
        for block in self.decode:
            if rereading:  # every block up to and including the upsampler re-reads the inputs
                x = torch.cat([x, asr_res, f0_down, n_down], dim=1)
            x = block(x, style, v)
            if block.upsample:
                v, rereading = valid2, False
        return self.generator(x, style, rearrange(f0, "b 1 f -> b f"), v, generator)
