"""The training learning-rate schedule: torch's SequentialLR over closed-form phases gives, step
by step and bit for bit, the rates of the formula it replaced, and continues exactly after a
state_dict round trip (as a resumed run does)."""

from __future__ import annotations

import math

import pytest
import torch

from kokoro_lab.lightning.lr_schedule import warmup_cosine

STEPS = 50


def formula(step: int, warmup: int, decay: int | None, floor: float) -> float:
    """The multiplier as training computed it before the schedule moved to SequentialLR."""
    if step < warmup:
        return (step + 1) / warmup
    if not decay:
        return 1.0
    progress = min((step - warmup) / decay, 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _optimizer(lr: float = 1e-4) -> torch.optim.Optimizer:
    """Two groups at different rates, as lr_scales makes them (PL-BERT at a tenth)."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr * s} for s in (1, 0.1)]
    return torch.optim.AdamW(groups)


def _rates(schedule, optimizer, steps: int) -> list[list[float]]:
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        schedule.step()
    return out


SETTINGS = [
    (0, None, 0.1),  # constant
    (5, None, 0.1),  # warm-up, then constant
    (0, 20, 0.1),  # cosine from the first step, then the floor
    (5, 20, 0.1),
    (3, 7, 0.5),
    (1, 1, 0.0),
    (10, 100, 0.1),  # still decaying at the end
]


@pytest.mark.parametrize("warmup, decay, floor", SETTINGS)
def test_rates_equal_the_formula_bit_for_bit(warmup, decay, floor):
    opt = _optimizer()
    rates = _rates(warmup_cosine(opt, warmup, decay, floor), opt, STEPS)
    expected = [
        [1e-4 * formula(k, warmup, decay, floor), 1e-5 * formula(k, warmup, decay, floor)]
        for k in range(STEPS)
    ]
    assert rates == expected


@pytest.mark.parametrize("warmup, decay, floor", SETTINGS)
@pytest.mark.parametrize("stop", [1, 4, 13])
def test_resumed_schedule_continues_exactly(warmup, decay, floor, stop):
    opt = _optimizer()
    uninterrupted = _rates(warmup_cosine(opt, warmup, decay, floor), opt, STEPS)

    opt = _optimizer()
    schedule = warmup_cosine(opt, warmup, decay, floor)
    before = _rates(schedule, opt, stop)
    opt_state, schedule_state = opt.state_dict(), schedule.state_dict()

    opt = _optimizer()
    schedule = warmup_cosine(opt, warmup, decay, floor)
    opt.load_state_dict(opt_state)
    schedule.load_state_dict(schedule_state)
    assert before + _rates(schedule, opt, STEPS - stop) == uninterrupted
