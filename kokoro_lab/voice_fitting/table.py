"""The length-indexed voicepack table, modelled as the init voice's table plus a fitted offset.

Axes: r rows (510; row r serves utterances of r + 1 phonemes), k anchors, s style (256).

Official voicepacks vary smoothly along the rows with a shape the voices share (short
utterances get a distinct prosody half); what tells voices apart is mostly a per-voice offset.
So the fitted voice is `table[r] = init[r] + offset(r)`, where `offset` is fitted at k anchor
rows (lengths seen in the data) and linearly interpolated between them, constant beyond the
first and last anchor: rows for lengths seen are fitted, the rest are smoothly filled.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kokoro_lab.config import CONTEXT_LENGTH


def anchor_rows(num_phonemes: list[int], k: int) -> list[int]:
    """k rows at the quantiles of the seen lengths (phonemes -> row = length - 1), distinct."""
    rows = torch.tensor([n - 1 for n in num_phonemes], dtype=torch.float32)
    qs = torch.linspace(0, 1, k + 2)[1:-1] if k > 1 else torch.tensor([0.5])
    return sorted({int(round(float(torch.quantile(rows, q)))) for q in qs})


def interpolation_weights(rows: Tensor, anchors: list[int]) -> Tensor:
    """rows (b,) long -> (b, k) weights of the anchor offsets: piecewise linear, clamped."""
    a = torch.tensor(anchors, dtype=torch.float32)
    r = rows.float().clamp(float(a[0]), float(a[-1]))
    if len(anchors) == 1:
        return torch.ones(len(rows), 1)
    hi = torch.searchsorted(a, r.contiguous(), right=False).clamp(1, len(anchors) - 1)
    lo = hi - 1
    t = (r - a[lo]) / (a[hi] - a[lo])
    w = torch.zeros(len(rows), len(anchors))
    w.scatter_(1, lo[:, None], (1 - t)[:, None])
    w.scatter_add_(1, hi[:, None], t[:, None])
    return w


def row_styles(init: Tensor, offsets: Tensor, anchors: list[int], rows: Tensor) -> Tensor:
    """init (r, 1, s), offsets (k, s), rows (b,) -> styles (b, s) of those rows."""
    return init[rows, 0] + interpolation_weights(rows, anchors).to(offsets) @ offsets


def build_table(init: Tensor, offsets: Tensor, anchors: list[int]) -> Tensor:
    """init (510, 1, s), offsets (k, s) -> the full float32 table (510, 1, s)."""
    assert init.shape[0] == CONTEXT_LENGTH and offsets.shape[0] == len(anchors)
    rows = torch.arange(CONTEXT_LENGTH)
    table = row_styles(init.float(), offsets.detach().float().cpu(), anchors, rows)
    return table[:, None, :].contiguous()
