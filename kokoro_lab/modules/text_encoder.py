"""The acoustic text encoder of StyleTTS 2: embedding -> 3 x (conv, LayerNorm, LeakyReLU) -> BiLSTM.

Axes: b batch, t tokens, c channels. Its output, expanded to frames by the durations, is the
"ASR-aligned" content the decoder speaks (`TextEncoder` in yl4579/StyleTTS2 models.py).
"""

from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.modules.adain import ChannelLayerNorm
from kokoro_lab.modules.lstm import run_lstm
from kokoro_lab.modules.masking import zero_invalid
from kokoro_lab.modules.weight_norm import WNConv1d

LEAKY_SLOPE = 0.2


class TextEncoder(nn.Module):
    """tokens (b, t), valid (b, t) -> features (b, c, t), zero at padded tokens."""

    def __init__(self, channels: int, kernel_size: int, depth: int, n_symbols: int, dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, channels)
        self.cnn = nn.ModuleList(
            nn.Sequential(
                WNConv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2),
                ChannelLayerNorm(channels),
                nn.LeakyReLU(LEAKY_SLOPE),
                nn.Dropout(dropout),
            )
            for _ in range(depth)
        )
        self.lstm = nn.LSTM(channels, channels // 2, 1, batch_first=True, bidirectional=True)

    def forward(self, tokens: Tensor, valid: Tensor | None = None) -> Tensor:
        x = rearrange(self.embedding(tokens), "b t c -> b c t")
        x = zero_invalid(x, valid)
        for block in self.cnn:
            x = zero_invalid(block(x), valid)
        x = run_lstm(self.lstm, rearrange(x, "b c t -> b t c"), valid)
        return zero_invalid(rearrange(x, "b t c -> b c t"), valid)
