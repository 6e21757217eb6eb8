"""Corpus synthesis with `Trainer.predict`: length-bucketed batches spread over devices and
nodes by Lightning's strategy (DDP on CPU with gloo, on GPU with NCCL, several nodes under
Slurm), each WAV written atomically by the rank that rendered it.

The batches come from `kokoro_lab.synthesis.batches` (formed from the whole corpus, dealt out
round-robin by rank, so no line is rendered twice and a line's batch does not depend on the
number of processes); the run's Trainer must not add a DistributedSampler
(`kokoro_lab.synthesis.distributed.sharded_trainer`). A batch with some lines finished by an
earlier run is rendered whole (same padding, same audio) and only its missing WAVs are written.
Axes: n samples.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, Dataset

from kokoro_lab.audio.io import write_wav
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserError
from kokoro_lab.pipeline import Synthesis
from kokoro_lab.synthesis.batches import shard
from kokoro_lab.synthesis.corpus import BadRow, Utterance
from kokoro_lab.synthesis.plan import Plan
from kokoro_lab.synthesis.records import (
    JOURNALS,
    Journal,
    journal_counts,
    record,
    write_manifest,
)
from kokoro_lab.synthesis.speakers import Speakers

log = logging.getLogger(__name__)

#: Seconds between two looks at the journals for the progress bar.
PROGRESS_POLL_S = 1.0


class Batches(Dataset):
    """A rank's share of the batches; each item is one whole batch of Utterances."""

    def __init__(self, batches: list[list[Utterance]]):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> list[Utterance]:
        return self.batches[i]


def _as_is(batch):
    return batch


@dataclass
class Spoken:
    """One utterance of a batch: its synthesis, or why it could not be spoken."""

    utterance: Utterance
    synthesis: Synthesis | None = None
    error: str | None = None


class CorpusSynthesis(L.LightningModule):
    """predict_step: a batch of Utterances (one voice, language and speed) -> [Spoken].

    speakers: the voices and pipelines over the model; batches: every batch of the corpus
    (this rank takes its share in `predict_dataloader`); threads: torch's CPU threads in this
    process while predicting (None: as launched).

    The model is deliberately not a registered submodule: every rank loads the same weights
    itself, and Lightning's DDP broadcast of parameters (done for predict too) would bump their
    version counters, which unfolds the folded weight norm (kokoro_lab.modules.weight_norm) and
    changes the audio by float rounding. The module moves the model to its device itself.
    """

    def __init__(self, speakers: Speakers, batches: list[list[Utterance]], threads=None):
        super().__init__()
        self.speakers = speakers
        self.batches = batches
        self.threads = threads

    def on_predict_start(self) -> None:
        self.speakers.model.to(self.device)

    def setup(self, stage: str) -> None:
        # Lightning's CPU DDP launcher sets torch's threads to cores / processes; an explicit
        # threads= wins (the task's process_state restores the count afterwards)
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))

    def predict_dataloader(self) -> DataLoader:
        mine = shard(self.batches, self.trainer.global_rank, self.trainer.world_size)
        # a rank with no batch still runs the start and end hooks (their barriers) on an
        # empty one; Lightning would skip them on an empty loader
        return DataLoader(Batches(mine or [[]]), batch_size=None, collate_fn=_as_is)

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # text, not tensors: the pipeline puts its tokens on the model's device

    @staticmethod
    def _render(pipeline, batch: list[Utterance]) -> list[Synthesis]:
        contents = [u.content for u in batch]
        if batch[0].phonemes:
            return pipeline.synthesize_batch(phonemes=contents, batch_size=len(batch))
        return pipeline.synthesize_batch(texts=contents, batch_size=len(batch))

    def predict_step(self, batch: list[Utterance], batch_idx: int) -> list[Spoken]:
        if not batch:
            return []
        first = batch[0]
        try:
            pipeline = self.speakers.pipeline(first.voice, first.lang, first.speed)
        except UserError as err:  # e.g. a language no front end speaks
            return [Spoken(u, error=str(err)) for u in batch]
        try:
            return [Spoken(u, s) for u, s in zip(batch, self._render(pipeline, batch))]
        except UserError:
            pass
        spoken = []  # one line spoils the batch: render each alone to find it
        for u in batch:
            try:
                spoken.append(Spoken(u, self._render(pipeline, [u])[0]))
            except UserError as err:
                spoken.append(Spoken(u, error=str(err)))
        return spoken


class CorpusWriter(Callback):
    """Writes each finished batch's missing WAVs (atomically) and journals them; at the end,
    once every rank is done, rank 0 writes manifest.tsv and bad_rows.tsv."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.out = Path(plan.output_dir)
        self.journal: Journal | None = None
        self.bad: list[BadRow] = []
        self.manifest: Path | None = None
        self.bad_rows: Path | None = None

    def on_predict_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:  # render-time refusals of an earlier run are retried
            for path in (self.out / JOURNALS).glob("bad-rank-*.tsv"):
                path.unlink()
        trainer.strategy.barrier("corpus-start")
        self.journal = Journal(self.out, trainer.global_rank)

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args) -> None:
        for spoken in outputs:
            u = spoken.utterance
            if u.wav not in self.plan.pending:
                continue
            if spoken.error is not None:
                self.journal.refused([BadRow(u.line, u.id, spoken.error)])
                continue
            path = self.out / u.wav
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, spoken.synthesis.audio)
            samples = int(spoken.synthesis.audio.shape[-1])
            sha = self.plan.config_sha256[u.wav]
            self.journal.wrote(
                [record(u, spoken.synthesis.phonemes, samples, SAMPLE_RATE, path, sha)]
            )

    def on_predict_end(self, trainer, pl_module) -> None:
        trainer.strategy.barrier("corpus-end")  # every rank's journal is complete
        if trainer.is_global_zero:
            self.manifest, self.bad_rows, self.bad = write_manifest(
                self.out, self.plan.utterances, self.plan.bad
            )
        trainer.strategy.barrier("corpus-manifest")


class CorpusProgress(Callback):
    """Rank 0's progress bar over every rank's work (read from the journals): lines and
    seconds of audio, per second of wall time."""

    def __init__(self, output_dir: str | os.PathLike, total: int):
        self.out = Path(output_dir)
        self.total = total
        self.bar = None
        self.lines, self.audio_s, self.wall_s = 0, 0.0, 0.0

    def on_predict_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        from tqdm.auto import tqdm

        self.base = journal_counts(self.out)
        self.started = self.polled = time.perf_counter()
        self.bar = tqdm(total=self.total, unit="line", desc="synthesis", dynamic_ncols=True)

    def _poll(self) -> None:
        lines, audio_s = journal_counts(self.out)
        self.lines, self.audio_s = lines - self.base[0], audio_s - self.base[1]
        self.wall_s = time.perf_counter() - self.started
        self.polled = time.perf_counter()
        self.bar.update(self.lines - self.bar.n)
        self.bar.set_postfix_str(
            f"{self.lines / self.wall_s:.2f} lines/s, {self.audio_s / self.wall_s:.2f} audio-s/s"
        )

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
        if self.bar is not None and time.perf_counter() - self.polled >= PROGRESS_POLL_S:
            self._poll()

    def on_predict_end(self, trainer, pl_module) -> None:
        trainer.strategy.barrier("corpus-progress")
        if self.bar is not None:
            self._poll()
            self.bar.close()
            log.info(
                "rendered %d lines, %.1f s of audio in %.1f s: %.2f lines/s, %.2f audio-s/s",
                self.lines,
                self.audio_s,
                self.wall_s,
                self.lines / max(self.wall_s, 1e-9),
                self.audio_s / max(self.wall_s, 1e-9),
            )


@dataclass
class CorpusResult:
    """What a corpus run wrote (rank 0; other ranks get None from `synthesize_corpus`)."""

    paths: list[Path]
    manifest: Path
    bad_rows: Path | None
    bad: list[BadRow]
    rendered: int
    skipped: int
    wall_s: float
    audio_s: float

    @property
    def lines_per_s(self) -> float:
        return self.rendered / self.wall_s if self.wall_s else 0.0

    @property
    def audio_s_per_s(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s else 0.0


def synthesize_corpus(
    make_trainer: Callable[..., L.Trainer],
    speakers: Speakers,
    plan: Plan,
    batch_size: int = 8,
    threads: int | None = None,
) -> CorpusResult | None:
    """Render the plan's pending utterances over the Trainer's devices; write manifest.tsv.

    `make_trainer(**overrides)` builds the Trainer (kokoro_lab.synthesis.distributed.
    sharded_trainer with the run's settings); it gets this job's callbacks."""
    from kokoro_lab.synthesis.batches import length_batches

    batches = [
        b
        for b in length_batches(plan.utterances, batch_size)
        if any(u.wav in plan.pending for u in b)
    ]
    writer = CorpusWriter(plan)
    progress = CorpusProgress(plan.output_dir, len(plan.pending))
    trainer = make_trainer(callbacks=[progress, writer])
    module = CorpusSynthesis(speakers, batches, threads)
    trainer.predict(module, return_predictions=False)
    if not trainer.is_global_zero:
        return None
    out = Path(plan.output_dir)
    paths = [out / u.wav for u in plan.utterances if (out / u.wav).is_file()]
    return CorpusResult(
        paths=paths,
        manifest=writer.manifest,
        bad_rows=writer.bad_rows,
        bad=writer.bad,
        rendered=progress.lines,
        skipped=len(plan.utterances) - len(plan.pending),
        wall_s=progress.wall_s,
        audio_s=progress.audio_s,
    )
