"""Systems under evaluation: something that turns an `EvalItem` into audio.

- `SynthesizedSystem`: a Kokoro `Pipeline` (checkpoint + voice + language); each utterance is
  timed (`SpeedMeter`: wall clock and peak RSS), so the real-time factor comes with it.
- `RecordedSystem`: existing WAVs, either an `audio_dir` (`0001.wav`, ... as written by
  `scripts/infer.py lines=true`; `ID.wav` is accepted for LJSpeech ids) or the reference
  recordings of an LJSpeech-layout set. No timing: their RTF is undefined.

Synthesized audio is scored exactly as `scripts/infer.py` would write it (clipped to [-1, 1],
16-bit PCM), so scoring a run and scoring its WAV files give the same numbers.
Axes: n samples.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from kokoro_lab.audio.io import read_audio
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.evaluation.sets import EvalItem, EvalSet
from kokoro_lab.metrics.speed import SpeedMeter
from kokoro_lab.pipeline import Pipeline

#: Memory polling interval while timing synthesis: coarse enough not to steal a shared core.
SPEED_POLL_S = 0.01


def as_written(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """audio (n,) float -> (n,) float32 after the 16-bit WAV round trip of `write_wav`."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    return sf.read(buffer, dtype="float32")[0]


@dataclass
class Rendered:
    """The audio (n,) of one utterance, with its phonemes and synthesis cost when known."""

    audio: np.ndarray
    sample_rate: int
    phonemes: str | None = None
    synthesis_s: float | None = None
    peak_rss_bytes: int | None = None


@dataclass
class SynthesizedSystem:
    """A Kokoro pipeline as a system; `produced_by` says which weights, voice and settings."""

    name: str
    pipeline: Pipeline
    produced_by: dict = field(default_factory=dict)
    kind: str = "synthesis"

    def warm_up(self) -> None:
        """One untimed utterance, so that the first timed one does not pay for G2P start-up
        and allocator growth."""
        self.pipeline(text="Warm up.")

    def render(self, item: EvalItem) -> Rendered:
        with SpeedMeter(poll_s=SPEED_POLL_S) as meter:
            result = self.pipeline(text=item.text)
        return Rendered(
            audio=as_written(result.audio.numpy()),
            sample_rate=SAMPLE_RATE,
            phonemes=result.phonemes,
            synthesis_s=meter.wall_s,
            peak_rss_bytes=meter.peak_rss_bytes,
        )


@dataclass
class RecordedSystem:
    """Existing recordings as a system: `audio_dir/NNNN.wav` (or `ID.wav`), or, with
    audio_dir=None, each item's reference recording."""

    name: str
    audio_dir: Path | None
    produced_by: dict = field(default_factory=dict)
    kind: str = "audio_dir"

    def path(self, item: EvalItem) -> Path:
        if self.audio_dir is None:
            if item.reference is None:
                raise UserValueError(f"item {item.id!r} has no reference recording")
            return item.reference
        numbered = self.audio_dir / item.wav_name
        by_id = self.audio_dir / f"{item.id}.wav"
        return numbered if numbered.is_file() or not by_id.is_file() else by_id

    def check(self, eval_set: EvalSet) -> None:
        """Every item has its file; else one FileNotFoundError naming the missing ones."""
        if self.audio_dir is not None and not self.audio_dir.is_dir():
            raise UserFileError(
                f"audio_dir={str(self.audio_dir)!r} is not a directory: pass the folder that "
                "holds 0001.wav, 0002.wav, ..."
            )
        missing = [self.path(i).name for i in eval_set.items if not self.path(i).is_file()]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise UserFileError(
                f"{len(missing)} of {len(eval_set)} WAVs are missing from {self.audio_dir} "
                f"({shown}): the folder must hold one NNNN.wav per non-empty line of the text "
                "set, numbered as `scripts/infer.py lines=true output_dir=DIR` writes them"
            )

    def warm_up(self) -> None:
        pass

    def render(self, item: EvalItem) -> Rendered:
        audio, rate = read_audio(self.path(item))
        return Rendered(audio=audio, sample_rate=rate)


def count_files(audio_dir: str | os.PathLike) -> int:
    return sum(1 for _ in Path(audio_dir).glob("*.wav"))
