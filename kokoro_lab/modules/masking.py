"""Mask helpers shared by every module. Axes: b batch, c channels, t time (tokens or frames).

One convention everywhere: `valid` is a (b, t) bool tensor, True at real tokens/frames; `None`
means every position is valid (the fast single-utterance path).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor


def lengths_to_valid(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """lengths (b,) -> valid (b, t) bool."""
    t = int(lengths.max()) if max_len is None else max_len
    return torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]


def zero_invalid(x: Tensor, valid: Tensor | None) -> Tensor:
    """x (b, c, t), valid (b, t) -> x with padded frames set to 0 (what a conv's zero pad sees)."""
    if valid is None:
        return x
    return x * rearrange(valid, "b t -> b 1 t").to(x.dtype)


def upsample_valid(valid: Tensor | None, factor: int) -> Tensor | None:
    """valid (b, t) -> (b, t * factor): each frame's validity repeated."""
    if valid is None:
        return None
    return torch.repeat_interleave(valid, factor, dim=1)
