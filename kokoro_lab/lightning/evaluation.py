"""Evaluation with `Trainer.test`, sharded over devices, processes and nodes by Lightning's
strategy: every system speaks every utterance of a set, `test_step` scores each utterance on
the rank that rendered it, `on_test_epoch_end` gathers the rows on rank 0, which aggregates per
system and per phoneme-length bucket and logs the summary under `test/SYSTEM/METRIC`.

The (system, utterance) pairs are listed from the whole run and dealt round-robin to the ranks
(`kokoro_lab.synthesis.batches.shard`: each pair exactly once, no DistributedSampler padding);
each rank still runs its pairs system by system, in set order, so a model's timing is not
disturbed by switching between systems. The metric models load once per process.

The systems (`kokoro_lab.evaluation.systems`) hold the Kokoro models. They are not registered
submodules: each rank loads the same weights, and Lightning's DDP broadcast of parameters would
unfold the folded weight norm (see kokoro_lab.lightning.inference); the module moves them to
its device itself.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from kokoro_lab.audio.io import write_wav
from kokoro_lab.evaluation.scoring import UtteranceScorer
from kokoro_lab.evaluation.sets import EvalItem, EvalSet
from kokoro_lab.evaluation.summary import summarize_systems
from kokoro_lab.evaluation.systems import Rendered, SynthesizedSystem
from kokoro_lab.synthesis.batches import shard

log = logging.getLogger(__name__)


def system_utterances(num_systems: int, num_items: int) -> list[tuple[int, int]]:
    """(system index, item position) for every system x every item of the set, system-major."""
    return [(s, i) for s in range(num_systems) for i in range(num_items)]


class PairBatches(Dataset):
    """A rank's pairs, one per batch (a rank with none gets one empty batch, so that it still
    joins the gather at the end). Plain integers: Lightning cannot copy frozen dataclasses."""

    def __init__(self, pairs: list[tuple[int, int]]):
        self.batches = [[p] for p in pairs] or [[]]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> list[tuple[int, int]]:
        return self.batches[i]


def _as_is(batch):
    return batch


def gather_to_rank_zero(obj, trainer: L.Trainer) -> list | None:
    """[obj of rank 0, obj of rank 1, ...] on rank 0 (None elsewhere); [obj] in one process."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return [obj]
    gathered = [None] * trainer.world_size if trainer.is_global_zero else None
    torch.distributed.gather_object(obj, gathered, dst=0)
    return gathered


@dataclass
class Sample:
    """A kept utterance for plots and audio logging."""

    system: str
    item: EvalItem
    rendered: Rendered


@dataclass
class EvaluationResult:
    rows: list[dict]
    summary: dict[str, dict]
    length_cuts: list[int]
    samples: list[Sample] = field(default_factory=list)


class EvaluationModule(L.LightningModule):
    """test_step: a batch of (system index, item position) -> one metrics row per pair.

    systems: `SynthesizedSystem`s and `RecordedSystem`s, all scored on `eval_set`.
    n_phonemes: phoneme-token count of each item's text, by item index (the length buckets).
    sample_indices: item indices whose audio is kept for plots and logging.
    audio_dir: where synthesized audio is written as `audio_dir/SYSTEM/NNNN.wav` (None: not).
    threads: torch's CPU threads per process while testing (None: as launched).
    """

    def __init__(
        self,
        systems: list,
        eval_set: EvalSet,
        scorer: UtteranceScorer,
        n_phonemes: dict[int, int],
        length_buckets: int | list[int] = 3,
        sample_indices: tuple[int, ...] = (1,),
        audio_dir: str | os.PathLike | None = None,
        threads: int | None = None,
    ):
        super().__init__()
        self.threads = threads
        self.systems = systems
        self.eval_set = eval_set
        self.scorer = scorer
        self.n_phonemes = n_phonemes
        self.length_buckets = length_buckets
        self.sample_indices = set(sample_indices)
        self.audio_dir = Path(audio_dir) if audio_dir is not None else None
        self.rows: list[dict] = []
        self.samples: list[Sample] = []
        self.summary: dict[str, dict] = {}
        self.length_cuts: list[int] = []

    def setup(self, stage: str) -> None:
        # Lightning's CPU DDP launcher sets torch's threads to cores / processes; an explicit
        # threads= wins (the task's process_state restores the count afterwards)
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))

    def test_dataloader(self) -> DataLoader:
        pairs = system_utterances(len(self.systems), len(self.eval_set))
        mine = shard(pairs, self.trainer.global_rank, self.trainer.world_size)
        return DataLoader(PairBatches(mine), batch_size=None, collate_fn=_as_is)

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch

    def on_test_start(self) -> None:
        for model in {id(m): m for m in self._models()}.values():
            model.to(self.device)
        self.scorer.prepare(self.eval_set)
        for system in self.systems:
            system.warm_up()

    def test_step(self, batch, batch_idx: int) -> None:
        for system_index, position in batch:
            system, item = self.systems[system_index], self.eval_set.items[position]
            rendered = system.render(item)
            started = time.perf_counter()
            row = self.scorer.score(system, item, rendered, self.n_phonemes[item.index])
            row["scoring_s"] = time.perf_counter() - started
            self.rows.append(row)
            log.debug("%s %s: wer %.3f mos %.2f", system.name, item.id, row["wer"], row["mos"])
            if item.index in self.sample_indices:
                self.samples.append(Sample(system.name, item, rendered))
            if self.audio_dir is not None and _synthesizes(system):
                folder = self.audio_dir / system.name
                folder.mkdir(parents=True, exist_ok=True)
                write_wav(folder / item.wav_name, rendered.audio, rendered.sample_rate)

    def _models(self) -> list[nn.Module]:
        return [s.pipeline.model for s in self.systems if _synthesizes(s)]

    def on_test_epoch_end(self) -> None:
        gathered = gather_to_rank_zero((self.rows, self.samples), self.trainer)
        if gathered is None:  # not rank 0: it reports nothing
            self.rows, self.samples = [], []
            return
        names = [s.name for s in self.systems]
        position = {item.index: i for i, item in enumerate(self.eval_set.items)}

        def order(row: dict) -> tuple[int, int]:  # one process's order: system-major
            return names.index(row["system"]), position[row["index"]]

        self.rows = sorted((r for rows, _ in gathered for r in rows), key=order)
        self.samples = sorted(
            (s for _, samples in gathered for s in samples),
            key=lambda s: (names.index(s.system), position[s.item.index]),
        )
        self.summary, self.length_cuts = summarize_systems(self.rows, names, self.length_buckets)
        scalars = {
            f"test/{name}/{key}": float(value)
            for name, summary in self.summary.items()
            for key, value in summary.items()
            if isinstance(value, int | float) and math.isfinite(value)
        }
        self.log_dict(scalars, rank_zero_only=True)

    def result(self) -> EvaluationResult:
        return EvaluationResult(self.rows, self.summary, self.length_cuts, self.samples)


def _synthesizes(system) -> bool:
    return isinstance(system, SynthesizedSystem)


def run_evaluation(module: EvaluationModule, trainer: L.Trainer) -> EvaluationResult | None:
    """`trainer.test` over every (system, utterance) pair of the module, shared out over the
    Trainer's processes -> EvaluationResult on rank 0, None on the other ranks."""
    trainer.test(module, verbose=False)
    return module.result() if trainer.is_global_zero else None
