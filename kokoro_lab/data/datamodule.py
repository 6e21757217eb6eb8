"""The LightningDataModule: a dataset directory (or a synthetic one it renders) -> loaders.

`prepare_data` (one process per node) renders the synthetic dataset when asked and computes the
feature cache; `setup` (every process) reads the manifest, drops clips shorter than the training
segment, and splits off validation clips. The training loader is resumable: its state (epoch,
batches the training loop consumed) is saved in Lightning checkpoints and restored on resume.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
from torch.utils.data import DataLoader

from kokoro_lab.audio.features import FeatureSettings
from kokoro_lab.data.dataset import (
    SpeechDataset,
    attach_reference_durations,
    collate,
    prepare_manifest,
)
from kokoro_lab.data.metadata import DEFAULT_COLUMNS, DEFAULT_SPEAKER
from kokoro_lab.data.sampler import BucketBatchSampler, ResumableDataLoader
from kokoro_lab.errors import UserFileError, UserValueError

if TYPE_CHECKING:
    from kokoro_lab.model import KokoroModel

log = logging.getLogger(__name__)


def synthetic_dir(voice: str, start: int, count: int) -> Path:
    """Where a rendered synthetic dataset lives in the kokoro_lab cache."""
    from kokoro_lab.hub import cache_dir

    return cache_dir() / "synthetic" / f"{voice}-{start}-{count}"


class KokoroDataModule(L.LightningDataModule):
    """Clips of `data_dir` (LJSpeech layout) in length-bucketed batches.

    data_dir: the dataset; None with `synthetic={voice, start, count}` renders Harvard sentences
        with the pretrained model into the cache first.
    val_dir: a separate validation dataset; otherwise `val_size` clips (the last ids) are held
        out, or shared with training when `val_from_train` (monitoring an overfit).
    batch_size: clips per process; the global batch is batch_size x world size.
    min_frames: clips shorter (in 600-sample frames) are skipped: the training segment length.
    reference_durations: null, "pretrained" (what `reference_model` predicts from the text,
        with the mean style of `reference_voice`, stretched to each clip; a prior for the
        aligner) or "file" (DATA_DIR/durations.json, as the synthetic datasets record them;
        diagnostics).
    reference_model: the model that predicts "pretrained" reference durations; the training
        task passes the run's own initial model (`init`), not a config value.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        val_dir: str | os.PathLike | None = None,
        synthetic: dict | None = None,
        lang: str = "en-us",
        columns: tuple[str, ...] = DEFAULT_COLUMNS,
        default_speaker: str = DEFAULT_SPEAKER,
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 4,
        val_batch_size: int = 2,
        val_size: int = 2,
        val_from_train: bool = False,
        min_frames: int = 40,
        max_seconds: float = 20.0,
        num_workers: int = 0,
        shuffle: bool = True,
        bucket_batches: int = 16,
        drop_last: bool = False,
        seed: int = 0,
        features: dict | None = None,
        reference_durations: str | None = None,
        reference_voice: str = "jf_alpha",
        feature_workers: int = 1,
        reference_model: KokoroModel | None = None,
    ):
        super().__init__()
        if data_dir is None and not synthetic:
            raise UserValueError(
                "pass data_dir=DIR (metadata.csv + wavs/) or synthetic={voice, ...}"
            )
        self.synthetic = dict(synthetic) if synthetic else None
        if data_dir is None:
            s = self.synthetic
            data_dir = synthetic_dir(
                s.get("voice", "jf_alpha"), s.get("start", 0), s.get("count", 16)
            )
        self.data_dir = Path(data_dir)
        self.val_dir = Path(val_dir) if val_dir else None
        self.lang, self.columns, self.default_speaker = lang, tuple(columns), default_speaker
        self.cache_dir = cache_dir
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.val_size, self.val_from_train = val_size, val_from_train
        self.min_frames, self.max_seconds = min_frames, max_seconds
        self.num_workers, self.shuffle = num_workers, shuffle
        self.bucket_batches, self.drop_last, self.seed = bucket_batches, drop_last, seed
        self.settings = FeatureSettings(**(features or {}))
        self.reference_durations, self.reference_voice = reference_durations, reference_voice
        self.reference_model = reference_model
        self.feature_workers = feature_workers
        self.train_set: SpeechDataset | None = None
        self.val_set: SpeechDataset | None = None
        self.speakers: list[str] = []

    def _manifest(self, directory: Path):
        manifest = prepare_manifest(
            directory,
            self.lang,
            self.settings,
            self.cache_dir,
            self.columns,
            self.default_speaker,
            self.max_seconds,
            self.feature_workers,
        )
        if self.reference_durations:
            attach_reference_durations(
                manifest,
                self.reference_durations,
                directory,
                self.reference_voice,
                self.reference_model,
            )
        return manifest

    def prepare_data(self) -> None:
        if self.synthetic and not (self.data_dir / "metadata.csv").is_file():
            from kokoro_lab.data.synthetic import render_dataset

            log.info("rendering the synthetic dataset %s", self.data_dir)
            render_dataset(self.data_dir, **self.synthetic)
        if not self.data_dir.is_dir():
            raise UserFileError(
                f"data_dir {str(self.data_dir)!r} does not exist: pass a dataset directory "
                "(metadata.csv with rows id|text|speaker, and wavs/ID.wav)"
            )
        self._manifest(self.data_dir)
        if self.val_dir is not None:
            self._manifest(self.val_dir)

    def _usable(self, manifest) -> list[dict]:
        keep = [e for e in manifest.entries if e["frames"] >= self.min_frames]
        if len(keep) < len(manifest.entries):
            log.warning(
                "%s: skipping %d clips shorter than %d frames (%.2f s), the training segment",
                manifest.cache_dir,
                len(manifest.entries) - len(keep),
                self.min_frames,
                self.min_frames * 2 * self.settings.hop_length / self.settings.sample_rate,
            )
        return keep

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        manifest = self._manifest(self.data_dir)  # cached: reads the manifest, computes nothing
        entries = sorted(self._usable(manifest), key=lambda e: e["id"])
        self.speakers = manifest.speakers
        if self.val_dir is not None:
            val_manifest = self._manifest(self.val_dir)
            val_entries = [e for e in val_manifest.entries if e["speaker"] in self.speakers]
            val_root = val_manifest.cache_dir
            train_entries = entries
        else:
            n_val = min(self.val_size, max(len(entries) - 1, 0))
            val_entries = entries[len(entries) - n_val :] if n_val else []
            val_root = manifest.cache_dir
            train_entries = entries if self.val_from_train else entries[: len(entries) - n_val]
        if not train_entries:
            raise UserValueError(
                f"no training clip in {str(self.data_dir)!r} is at least {self.min_frames} "
                "frames long: add data or lower the segment length"
            )
        self.train_set = SpeechDataset(manifest.cache_dir, train_entries, self.speakers)
        self.val_set = SpeechDataset(val_root, val_entries, self.speakers) if val_entries else None

    def _consumed(self) -> int | None:
        """Batches of the current epoch the training loop has taken (Lightning's progress)."""
        trainer = self.trainer
        if trainer is None:
            return None
        return trainer.fit_loop.epoch_loop.batch_progress.current.ready

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        world = trainer.world_size if trainer is not None else 1
        rank = trainer.global_rank if trainer is not None else 0
        sampler = BucketBatchSampler(
            self.train_set.frames,
            self.batch_size,
            world,
            rank,
            self.seed,
            self.shuffle,
            self.bucket_batches,
            self.drop_last,
        )
        return ResumableDataLoader(
            self.train_set,
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            consumed=self._consumed,
        )

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return DataLoader(
            self.val_set,
            batch_size=self.val_batch_size,
            shuffle=False,
            collate_fn=collate,
            num_workers=self.num_workers,
        )
