"""The StyleTTS 2 prosody predictor: durations, then F0 and energy (N) curves from style.

Axes: b batch, t tokens, f frames (one per predicted duration unit), c channels, s style.
Follows `ProsodyPredictor` / `DurationEncoder` of yl4579/StyleTTS2 models.py. The prosody half of
the voicepack row conditions every layer. F0 and N come out at 2x the alignment frame rate.
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from kokoro_lab.modules.adain import AdaLayerNorm
from kokoro_lab.modules.lstm import run_lstm
from kokoro_lab.modules.masking import upsample_valid, zero_invalid
from kokoro_lab.modules.residual import AdainResBlk1d


class DurationEncoder(nn.Module):
    """bert features (b, c, t), style (b, s), valid (b, t) -> (b, t, c + s).

    `lstms` alternates BiLSTM and AdaLayerNorm (official names); the style is re-appended after
    every norm so each LSTM sees it.
    """

    def __init__(self, style_dim: int, d_model: int, nlayers: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.lstms = nn.ModuleList()
        for _ in range(nlayers):
            self.lstms.append(
                nn.LSTM(d_model + style_dim, d_model // 2, 1, batch_first=True, bidirectional=True)
            )
            self.lstms.append(AdaLayerNorm(style_dim, d_model))

    def forward(self, x: Tensor, style: Tensor, valid: Tensor | None = None) -> Tensor:
        s = repeat(style, "b s -> b t s", t=x.shape[-1])
        m = None if valid is None else rearrange(valid, "b t -> b t 1").to(x.dtype)
        h = torch.cat([rearrange(x, "b c t -> b t c"), s], dim=-1)
        h = h if m is None else h * m
        for block in self.lstms:
            if isinstance(block, AdaLayerNorm):
                h = torch.cat([block(h, style), s], dim=-1)
                h = h if m is None else h * m
            else:
                h = self.dropout(run_lstm(block, h, valid))
        return h


class LinearNorm(nn.Module):
    """A Linear wrapped as in StyleTTS 2 (official name `linear_layer`)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.linear_layer = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_layer(x)


class ProsodyPredictor(nn.Module):
    """Durations per token, and F0 / energy per frame, from text features and the prosody style."""

    def __init__(
        self, style_dim: int, d_hid: int, nlayers: int, max_dur: int = 50, dropout: float = 0.1
    ):
        super().__init__()
        self.text_encoder = DurationEncoder(style_dim, d_hid, nlayers, dropout)
        self.lstm = nn.LSTM(d_hid + style_dim, d_hid // 2, 1, batch_first=True, bidirectional=True)
        self.duration_proj = LinearNorm(d_hid, max_dur)
        self.shared = nn.LSTM(
            d_hid + style_dim, d_hid // 2, 1, batch_first=True, bidirectional=True
        )
        half = d_hid // 2
        self.F0 = self._curve_blocks(d_hid, half, style_dim, dropout)
        self.N = self._curve_blocks(d_hid, half, style_dim, dropout)
        self.F0_proj = nn.Conv1d(half, 1, 1)
        self.N_proj = nn.Conv1d(half, 1, 1)

    @staticmethod
    def _curve_blocks(d_hid: int, half: int, style_dim: int, dropout: float) -> nn.ModuleList:
        return nn.ModuleList(
            [
                AdainResBlk1d(d_hid, d_hid, style_dim, dropout_p=dropout),
                AdainResBlk1d(d_hid, half, style_dim, upsample=True, dropout_p=dropout),
                AdainResBlk1d(half, half, style_dim, dropout_p=dropout),
            ]
        )

    def duration_logits(self, d: Tensor, valid: Tensor | None = None) -> Tensor:
        """d (b, t, c + s) -> (b, t, max_dur): per-bin logits; sum of sigmoids = frames."""
        return self.duration_proj(run_lstm(self.lstm, d, valid))

    def f0_energy(
        self, en: Tensor, style: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """en (b, c + s, f), style (b, s), valid (b, f) -> F0 (b, 2f), N (b, 2f)."""
        x = run_lstm(self.shared, rearrange(en, "b c f -> b f c"), valid)
        x = zero_invalid(rearrange(x, "b f c -> b c f"), valid)
        curves = []
        for blocks, proj in ((self.F0, self.F0_proj), (self.N, self.N_proj)):
            h, v = x, valid
            for block in blocks:
                h = block(h, style, v)
                v = upsample_valid(v, 2) if block.upsample else v
            curves.append(rearrange(proj(h), "b 1 f -> b f"))
        return curves[0], curves[1]
