"""Duration and speaking rate of synthesized clips.

Per clip:
    duration_s         total length, n / sample_rate
    speech_s           length after trimming leading and trailing silence (librosa.effects.trim:
                       RMS frames more than `top_db` below the clip's loudest frame; 20 ms
                       frames, 5 ms hop, so the edges are found to about 10 ms)
    words_per_minute   60 * n_words / speech_s           (when the word count is given)
    phonemes_per_second  n_phonemes / speech_s           (when the phoneme count is given)
Pauses inside the clip count as speech time. Over a set, `summarize` gives mean/std/min/max of
each field and the pooled rates (total words / total speech time), which weigh long clips more.
`count_words` (from text_norm) counts spoken words, numbers expanded: "7 cats" -> 2.
Axes: n samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from kokoro_lab.audio.checks import as_mono, check_rate
from kokoro_lab.errors import UserValueError
from kokoro_lab.metrics.text_norm import count_words

__all__ = ["ClipDuration", "SpeakingRate", "count_words", "summarize"]


@dataclass(frozen=True)
class ClipDuration:
    """Durations in seconds and rates of one clip; rates are nan when the count was not given."""

    duration_s: float
    speech_s: float
    words_per_minute: float = float("nan")
    phonemes_per_second: float = float("nan")
    n_words: int | None = None
    n_phonemes: int | None = None


def _rate(count: int | None, seconds: float, per: float) -> float:
    if count is None:
        return float("nan")
    if count < 0:
        raise UserValueError(f"counts must be >= 0, got {count}")
    return per * count / seconds if seconds > 0 else float("nan")


class SpeakingRate:
    """Clip duration, speech duration and speaking rates; see the module docstring."""

    def __init__(self, top_db: float = 40.0, frame_s: float = 0.02, hop_s: float = 0.005):
        if not 0 < hop_s <= frame_s:
            raise UserValueError(f"need 0 < hop_s <= frame_s, got hop_s={hop_s}, frame_s={frame_s}")
        self.top_db, self.frame_s, self.hop_s = top_db, frame_s, hop_s

    def speech_seconds(self, audio: np.ndarray, sample_rate: int) -> float:
        """audio (n,) -> seconds between the first and last non-silent frame."""
        import librosa

        x, sample_rate = as_mono(audio), check_rate(sample_rate)
        if not np.any(x):
            return 0.0
        _, (start, end) = librosa.effects.trim(
            x,
            top_db=self.top_db,
            frame_length=max(1, round(self.frame_s * sample_rate)),
            hop_length=max(1, round(self.hop_s * sample_rate)),
        )
        return (end - start) / sample_rate

    def __call__(
        self,
        audio: np.ndarray,
        sample_rate: int,
        n_words: int | None = None,
        n_phonemes: int | None = None,
    ) -> ClipDuration:
        """audio (n,) at sample_rate, optional word/phoneme counts -> ClipDuration."""
        x = as_mono(audio)
        speech = self.speech_seconds(x, sample_rate)
        return ClipDuration(
            duration_s=len(x) / check_rate(sample_rate),
            speech_s=speech,
            words_per_minute=_rate(n_words, speech, 60.0),
            phonemes_per_second=_rate(n_phonemes, speech, 1.0),
            n_words=n_words,
            n_phonemes=n_phonemes,
        )


def summarize(clips: Sequence[ClipDuration]) -> dict[str, float]:
    """[ClipDuration] -> {"<field>_mean"/"_std"/"_min"/"_max": ..., "total_s", "total_speech_s",
    "pooled_words_per_minute", "pooled_phonemes_per_second"}; nan fields are skipped, and a
    field that is nan for every clip stays nan."""
    if not clips:
        raise UserValueError("summarize got no clips: pass at least one ClipDuration")
    out: dict[str, float] = {}
    for field in ("duration_s", "speech_s", "words_per_minute", "phonemes_per_second"):
        values = np.array([asdict(c)[field] for c in clips], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            stats = (values.mean(), values.std(), values.min(), values.max())
        else:
            stats = (float("nan"),) * 4
        for name, value in zip(("mean", "std", "min", "max"), stats, strict=True):
            out[f"{field}_{name}"] = float(value)
    out["total_s"] = float(sum(c.duration_s for c in clips))
    out["total_speech_s"] = float(sum(c.speech_s for c in clips))
    for key, attr, per in (
        ("pooled_words_per_minute", "n_words", 60.0),
        ("pooled_phonemes_per_second", "n_phonemes", 1.0),
    ):
        counted = [c for c in clips if getattr(c, attr) is not None]
        seconds = sum(c.speech_s for c in counted)
        count = sum(getattr(c, attr) for c in counted)
        out[key] = per * count / seconds if counted and seconds > 0 else float("nan")
    return out
