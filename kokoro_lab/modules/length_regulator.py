"""The length regulator (FastSpeech): durations to a hard monotonic alignment and to frames.

Axes: b batch, t tokens, f frames, c channels, k bins.

Kokoro predicts each token's duration as the sum of `max_dur` sigmoids (StyleTTS 2), divides by
the speed, rounds, and keeps at least one frame per real token. Expanding features to frames is
a gather (a copy), the same numbers as the official one-hot matrix product. Durations predicted
for a text are stretched to a recording's frame count by `rescale_durations`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from einops import repeat
from torch import Tensor

from kokoro_lab.errors import UserValueError


def durations_from_logits(
    logits: Tensor, speed: float | Tensor = 1.0, valid: Tensor | None = None
) -> Tensor:
    """logits (b, t, k), speed scalar or (b,) -> integer frames per token (b, t); 0 at padding."""
    if isinstance(speed, Tensor) and speed.dim() == 1:
        speed = speed[:, None]
    frames = torch.sigmoid(logits).sum(-1) / speed
    durations = torch.round(frames).clamp(min=1).long()
    return durations if valid is None else durations * valid.long()


def frame_to_token(durations: Tensor) -> tuple[Tensor, Tensor]:
    """durations (b, t) -> token index of each frame (b, f) and frame validity (b, f)."""
    ends = torch.cumsum(durations, dim=1)  # (b, t)
    total = ends[:, -1]
    f = int(total.max())
    pos = repeat(torch.arange(f, device=durations.device), "f -> b f", b=durations.shape[0])
    index = torch.searchsorted(ends, pos.contiguous(), right=True).clamp(max=durations.shape[1] - 1)
    return index, pos < total[:, None]


def expand_to_frames(x: Tensor, index: Tensor) -> Tensor:
    """x (b, c, t), index (b, f) -> (b, c, f): each frame copies its token's features."""
    return torch.gather(x, 2, repeat(index, "b f -> b c f", c=x.shape[1]))


def rescale_durations(durations: Sequence[int], frames: int) -> list[int]:
    """Integer durations (t) -> t integers >= 1 summing to `frames`, proportional to the input
    (cumulative rounding, so no token drifts by more than a frame)."""
    d = np.maximum(np.asarray(durations, dtype=np.float64), 1e-3)
    t = len(d)
    if frames < t:
        raise UserValueError(f"{frames} frames cannot hold {t} tokens")
    ends = np.round(np.cumsum(d) * frames / d.sum()).astype(np.int64)
    for k in range(t):  # every token at least one frame, and room left for the rest
        low = (ends[k - 1] if k else 0) + 1
        ends[k] = min(max(ends[k], low), frames - (t - 1 - k))
    ends[-1] = frames
    return np.diff(np.concatenate([[0], ends])).tolist()
