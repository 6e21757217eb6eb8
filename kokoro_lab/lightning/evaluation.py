"""Evaluation with `Trainer.test`: every system speaks every utterance of a set, `test_step`
scores each utterance, `on_test_epoch_end` aggregates per system and per phoneme-length bucket
and logs the summary under `test/SYSTEM/METRIC`.

The systems (`kokoro_lab.evaluation.systems`) hold the Kokoro models; they are registered here
so that Lightning moves them to the accelerator. Utterances run system by system, in set order,
so a model's timing is not disturbed by switching between systems.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from torch import nn
from torch.utils.data import DataLoader, Dataset

from kokoro_lab.audio.io import write_wav
from kokoro_lab.evaluation.scoring import UtteranceScorer
from kokoro_lab.evaluation.sets import EvalItem, EvalSet
from kokoro_lab.evaluation.summary import summarize_systems
from kokoro_lab.evaluation.systems import Rendered, SynthesizedSystem

log = logging.getLogger(__name__)


class SystemUtterances(Dataset):
    """(system index, item position) for every system x every item of the set, system-major.
    Plain integers: Lightning moves batches to the device and cannot copy frozen dataclasses."""

    def __init__(self, num_systems: int, num_items: int):
        self.pairs = [(s, i) for s in range(num_systems) for i in range(num_items)]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[int, int]:
        return self.pairs[i]


def _collate(batch):
    return batch


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
    ):
        super().__init__()
        self.systems = systems
        models = {id(s.pipeline.model): s.pipeline.model for s in systems if _synthesizes(s)}
        self.models = nn.ModuleList(models.values())  # registered, so Lightning moves them
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

    def on_test_start(self) -> None:
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

    def on_test_epoch_end(self) -> None:
        names = [s.name for s in self.systems]
        self.summary, self.length_cuts = summarize_systems(self.rows, names, self.length_buckets)
        scalars = {
            f"test/{name}/{key}": float(value)
            for name, summary in self.summary.items()
            for key, value in summary.items()
            if isinstance(value, int | float) and math.isfinite(value)
        }
        self.log_dict(scalars)

    def result(self) -> EvaluationResult:
        return EvaluationResult(self.rows, self.summary, self.length_cuts, self.samples)


def _synthesizes(system) -> bool:
    return isinstance(system, SynthesizedSystem)


def run_evaluation(
    module: EvaluationModule, trainer: L.Trainer, batch_size: int = 1
) -> EvaluationResult:
    """`trainer.test` over every (system, utterance) pair of the module -> EvaluationResult."""
    pairs = SystemUtterances(len(module.systems), len(module.eval_set))
    loader = DataLoader(pairs, batch_size=batch_size, collate_fn=_collate)
    trainer.test(module, loader, verbose=False)
    return module.result()
