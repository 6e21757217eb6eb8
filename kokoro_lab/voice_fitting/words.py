"""The words of a recording, with times, and which utterance each belongs to.

Times are in seconds from the start of the recording. Three sources:

- `heard_words`: Whisper's words with their timestamps (faster-whisper `word_timestamps=True`,
  cross-attention DTW): English without a transcript;
- `time_transcript`: a given transcript's words timed by matching them (difflib, on lowercase
  letters and digits) to the heard words; an unmatched word gets times interpolated between its
  matched neighbours. English with a transcript: the user's words win, Whisper only times them;
- `split_by_length`: no ASR for the language, so the transcript is shared out over the
  utterances in proportion to their speech time, by character count (a proxy for phoneme count
  that needs no G2P per word; for text without spaces, such as Japanese, the units are
  characters), each cut moved to a nearby punctuation mark when one is close. Within each piece
  the model's DTW aligner (durations.dtw_align) then finds the token boundaries.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

#: A cut may move this share of the units to land after a punctuation mark.
PUNCTUATION_REACH = 0.15
_PUNCTUATION = set(",.;:!?。、，．！？；：…")


@dataclass(frozen=True)
class Word:
    """A word as written (with its punctuation) and where it is spoken (seconds)."""

    text: str
    start: float
    end: float

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2


def heard_words(asr, audio: np.ndarray, sample_rate: int) -> list[Word]:
    """audio (n,) -> the words a WhisperASR hears, with their timestamps (deterministic decoding,
    as the evaluation's)."""
    from kokoro_lab.audio.checks import resample
    from kokoro_lab.metrics.asr import WHISPER_SAMPLE_RATE

    segments, _ = asr.model.transcribe(
        resample(audio, sample_rate, WHISPER_SAMPLE_RATE), **asr.decoding(word_timestamps=True)
    )
    return [
        Word(w.word.strip(), float(w.start), float(w.end))
        for s in segments
        for w in s.words or []
        if w.word.strip()
    ]


def _key(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def time_transcript(text: str, heard: list[Word]) -> list[Word]:
    """The transcript's words, timed by the heard words they match (see the module docstring)."""
    words = text.split()
    matcher = difflib.SequenceMatcher(
        a=[_key(w) for w in words], b=[_key(w.text) for w in heard], autojunk=False
    )
    times: list[tuple[float, float] | None] = [None] * len(words)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            h = heard[block.b + k]
            times[block.a + k] = (h.start, h.end)
    known = [i for i, t in enumerate(times) if t is not None]
    if not known:  # nothing matched: spread the words evenly over what was heard
        start, end = (heard[0].start, heard[-1].end) if heard else (0.0, 1.0)
        edges = np.linspace(start, end, len(words) + 1)
        return [Word(w, float(edges[i]), float(edges[i + 1])) for i, w in enumerate(words)]
    starts = np.interp(range(len(words)), known, [times[i][0] for i in known])
    ends = np.interp(range(len(words)), known, [times[i][1] for i in known])
    return [Word(w, float(s), float(e)) for w, s, e in zip(words, starts, ends)]


def words_per_piece(words: list[Word], spans: list[tuple[float, float]]) -> list[str]:
    """Each piece's text: the words whose middle falls in its span [start, end) seconds, or in
    the nearest span."""
    texts: list[list[str]] = [[] for _ in spans]
    for w in words:
        distance = [max(a - w.middle, 0.0, w.middle - b) for a, b in spans]
        texts[int(np.argmin(distance))].append(w.text)
    return [" ".join(t) for t in texts]


def split_by_length(text: str, seconds: list[float]) -> list[str]:
    """A transcript shared out over pieces of `seconds` speech each, in proportion (see the
    module docstring) -> one text per piece."""
    spaced = len(text.split()) > 1
    units = text.split() if spaced else list(text.strip())
    weight = np.cumsum([len(u) for u in units])
    shares = np.cumsum(seconds)[:-1] / sum(seconds)
    cuts, reach = [], max(1, round(PUNCTUATION_REACH * len(units)))
    for share in shares:
        cut = int(np.searchsorted(weight, share * weight[-1])) + 1
        near = [
            k
            for k in range(cut - reach, cut + reach + 1)
            if 0 < k < len(units) and units[k - 1][-1] in _PUNCTUATION
        ]
        cut = min(near, key=lambda k: abs(k - cut)) if near else cut
        cuts.append(min(max(cut, cuts[-1] if cuts else 0), len(units)))
    bounds = [0, *cuts, len(units)]
    join = " ".join if spaced else "".join
    return [join(units[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
