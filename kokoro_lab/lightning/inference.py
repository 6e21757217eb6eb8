"""Corpus synthesis with `Trainer.predict`: one WAV per line, spread over devices by Lightning.

Each line is synthesized exactly as `Pipeline` would synthesize it alone (same seed per line),
so a corpus run and single calls agree. Writing happens in a prediction-writer callback, one
atomic file per line, so an interrupted run never leaves a partial WAV.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from kokoro_lab.audio.io import write_wav
from kokoro_lab.errors import UserValueError
from kokoro_lab.pipeline import Pipeline


class LinesDataset(Dataset):
    """Non-empty lines of a text (or phoneme) file as (index, line), numbered 1, 2, ... in order
    (blank lines are skipped and take no number)."""

    def __init__(self, lines: list[str]):
        kept = [line.strip() for line in lines if line.strip()]
        self.items = list(enumerate(kept, 1))
        if not self.items:
            raise UserValueError("the lines file has no non-empty line to synthesize")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[int, str]:
        return self.items[i]


def _collate(batch):
    return batch


class SynthesisModule(L.LightningModule):
    """predict_step: a batch of (index, text) -> [(index, phonemes, audio (n,))]."""

    def __init__(self, pipeline: Pipeline, phonemes: bool = False):
        super().__init__()
        self.pipeline = pipeline
        self.model = pipeline.model  # registered, so Lightning moves it to the device
        self.phonemes = phonemes

    def predict_step(self, batch, batch_idx: int):
        out = []
        for index, line in batch:
            kwargs = {"phonemes": line} if self.phonemes else {"text": line}
            result = self.pipeline(**kwargs)
            out.append((index, result.phonemes, result.audio))
        return out


class WavWriter(BasePredictionWriter):
    """Writes `output_dir/0001.wav` ... as each batch finishes."""

    def __init__(self, output_dir: str | os.PathLike):
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)
        self.written: list[Path] = []

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0
    ):
        for index, _, audio in prediction:
            self.written.append(write_wav(self.output_dir / f"{index:04d}.wav", audio))


def synthesize_lines(
    make_trainer: Callable[..., L.Trainer],
    pipeline: Pipeline,
    lines: list[str],
    output_dir: str | os.PathLike,
    phonemes: bool = False,
    batch_size: int = 4,
) -> list[Path]:
    """Every non-empty line -> output_dir/NNNN.wav (NNNN = the line number); returns the paths.

    `make_trainer(**overrides)` builds the Trainer (e.g. `partial(kokoro_lab.lightning.trainer.
    make_trainer, cfg)`); it is given the WAV writer callback and no checkpointing."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    writer = WavWriter(output_dir)
    trainer = make_trainer(callbacks=[writer], enable_checkpointing=False)
    loader = DataLoader(LinesDataset(lines), batch_size=batch_size, collate_fn=_collate)
    trainer.predict(SynthesisModule(pipeline, phonemes), loader, return_predictions=False)
    return sorted(writer.written)
