"""The learning-rate schedule: linear warm-up, then constant or a cosine decay to a floor.

Each phase is a closed-form `LambdaLR` (a multiplier of every group's base rate) and torch's
`SequentialLR` switches between them at the step milestones. Why not `LinearLR` and
`CosineAnnealingLR`: their recursive (chainable) updates drift from the closed form by float
rounding, `CosineAnnealingLR`'s floor `eta_min` is one absolute rate where ours is a ratio of
each group's rate (PL-BERT trains at a tenth), and it rises again after `T_max`.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, SequentialLR


def warmup_cosine(
    optimizer: Optimizer,
    warmup_steps: int = 0,
    decay_steps: int | None = None,
    min_lr_ratio: float = 0.1,
) -> SequentialLR:
    """Multiplier of the base rates at optimizer step k (counting from 0):

    (k + 1) / warmup_steps                                  for k < warmup_steps
    1                                                       after it, when decay_steps is None
    r + (1 - r) (1 + cos(pi (k - warmup_steps) / decay_steps)) / 2    over decay_steps steps
    r = min_lr_ratio                                        after them
    """
    warmup = max(int(warmup_steps), 0)
    floor = float(min_lr_ratio)
    phases, milestones = [], []
    if warmup:
        phases.append(LambdaLR(optimizer, lambda k: (k + 1) / warmup))
        milestones.append(warmup)
    if not decay_steps:
        phases.append(LambdaLR(optimizer, lambda k: 1.0))
        return SequentialLR(optimizer, phases, milestones)
    decay = int(decay_steps)

    def cosine(k: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (k / decay)))

    phases += [LambdaLR(optimizer, cosine), LambdaLR(optimizer, lambda k: floor)]
    milestones.append(warmup + decay)
    return SequentialLR(optimizer, phases, milestones)
