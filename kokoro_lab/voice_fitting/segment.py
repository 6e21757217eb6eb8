"""Splitting a recording into utterances at its pauses (energy-based voice activity).

Axes: n samples at 24 kHz, f level frames (10 ms).

A frame is speech when its level is above a threshold set between the recording's noise floor
(its 10th-percentile frame, at least -90 dBFS: digital silence has none) and its speech level
(the 95th percentile): SPEECH_SHARE of the way up. So the split adapts to quiet clips and to
background noise (at 20 dB SNR the floor rises and the threshold with it). A pause is a run of
non-speech frames of at least `min_pause` seconds; each utterance keeps MARGIN_SECONDS of the
pause on each side (onsets and releases are quiet), and one longer than MAX_PIECE_SECONDS is cut
at its quietest frame in the middle half. Leading and trailing silence is simply outside every
utterance.
"""

from __future__ import annotations

import numpy as np

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.voice_fitting.recording import LEVEL_FRAME, frame_levels_db

#: Shortest silence that separates two utterances.
PAUSE_SECONDS = 0.35
#: Silence kept around each utterance.
MARGIN_SECONDS = 0.1
#: Utterances are cut below this: the fit decodes a whole piece per step (CPU time grows with it).
MAX_PIECE_SECONDS = 12.0
#: Where between the noise floor (0) and the speech level (1) the speech threshold sits.
SPEECH_SHARE = 0.35
#: The lowest noise floor assumed (dBFS).
FLOOR_DB = -90.0


def speech_frames(audio: np.ndarray) -> np.ndarray:
    """audio (n,) -> speech per 10 ms frame (f,) bool."""
    level = frame_levels_db(audio)
    floor = max(float(np.percentile(level, 10)), FLOOR_DB)
    speech = float(np.percentile(level, 95))
    return level > floor + SPEECH_SHARE * (speech - floor)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """mask (f,) bool -> [start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _cut_long(span: tuple[int, int], level: np.ndarray, longest: int) -> list[tuple[int, int]]:
    """A frame span longer than `longest` -> spans cut at the quietest frame of the middle half."""
    a, b = span
    if b - a <= longest:
        return [span]
    q = (b - a) // 4
    cut = a + q + int(np.argmin(level[a + q : b - q]))
    return _cut_long((a, cut), level, longest) + _cut_long((cut, b), level, longest)


def split_at_pauses(
    audio: np.ndarray,
    min_pause: float = PAUSE_SECONDS,
    margin: float = MARGIN_SECONDS,
    max_piece: float = MAX_PIECE_SECONDS,
) -> list[tuple[int, int]]:
    """audio (n,) at 24 kHz -> utterances as [start, end) sample spans, in order (empty when it
    holds no speech)."""
    fps = SAMPLE_RATE / LEVEL_FRAME
    spans: list[tuple[int, int]] = []
    for a, b in _runs(speech_frames(audio)):
        if spans and a - spans[-1][1] < min_pause * fps:
            spans[-1] = (spans[-1][0], b)  # a short gap: the same utterance
        else:
            spans.append((a, b))
    level = frame_levels_db(audio)
    spans = [s for span in spans for s in _cut_long(span, level, round(max_piece * fps))]
    pad, total = round(margin * fps), len(level)
    return [(max(0, a - pad) * LEVEL_FRAME, min(total, b + pad) * LEVEL_FRAME) for a, b in spans]
