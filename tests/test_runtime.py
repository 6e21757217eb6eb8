"""Process-wide state is set only through kokoro_lab.runtime.process_state and restored after
every task: torch's thread count, the global RNGs, Lightning's seed variables, malloc."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from conftest import compose_config

from kokoro_lab.runtime import allocator_tuned, process_state
from kokoro_lab.tasks.infer import infer


def snapshot() -> tuple:
    return (
        torch.get_num_threads(),
        torch.get_rng_state(),
        np.random.get_state()[1].copy(),
        random.getstate(),
        os.environ.get("PL_GLOBAL_SEED"),
        allocator_tuned(),
    )


def same(a: tuple, b: tuple) -> bool:
    return (
        a[0] == b[0] and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2]) and a[3:] == b[3:]
    )


def test_process_state_sets_then_restores_everything():
    before = snapshot()
    threads = 1 if torch.get_num_threads() != 1 else 2
    with process_state(threads=threads, seed=123, tune_malloc=True):
        os.environ["PL_GLOBAL_SEED"] = "123"  # as Lightning's seed_everything does
        assert torch.get_num_threads() == threads and allocator_tuned()
        a = torch.rand(3)
    with process_state(seed=123):
        assert torch.equal(torch.rand(3), a)  # seeded
    assert same(snapshot(), before)


def test_a_failing_block_restores_too():
    before = snapshot()
    try:
        with process_state(threads=1, seed=5, tune_malloc=True):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert same(snapshot(), before)


def test_infer_task_leaves_the_process_as_it_found_it(tmp_path):
    cfg = compose_config("infer", "text=Hi there.", f"output={tmp_path / 'a.wav'}")
    cfg.threads = 1 if torch.get_num_threads() != 1 else 2
    before = snapshot()
    infer(cfg)
    assert same(snapshot(), before)
