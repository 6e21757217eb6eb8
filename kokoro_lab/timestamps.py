"""Word and phoneme timestamps from predicted durations.

One duration frame is 600 samples at 24 kHz (25 ms): a token with d frames spans d * 600
samples. The boundary pads' frames are leading/trailing silence. Works for every language, since
it only needs the phoneme string (words are its space-separated groups; the chunk's text words are
attached when espeak kept the word count).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.io import atomic_write
from kokoro_lab.pipeline import ChunkAudio, Synthesis
from kokoro_lab.text import VOCAB

SAMPLES_PER_FRAME = 600


def chunk_timestamps(chunk: ChunkAudio) -> dict:
    """{"phonemes": [{"phoneme", "start", "end"}], "words": [{"word", "phonemes", "start",
    "end"}]} in seconds from the start of the whole synthesis."""
    frame_s = SAMPLES_PER_FRAME / SAMPLE_RATE
    ends = chunk.durations.cumsum(0).tolist()
    starts = [0, *ends[:-1]]
    symbols = [p for p in chunk.phonemes if p in VOCAB]
    phones = [
        {
            "phoneme": p,
            "start": round(chunk.offset_s + s * frame_s, 4),
            "end": round(chunk.offset_s + e * frame_s, 4),
        }
        for p, s, e in zip(symbols, starts[1:-1], ends[1:-1])  # skip the boundary pads
    ]
    words, current = [], []
    for ph in [*phones, None]:
        if ph is None or ph["phoneme"] == " ":
            if current:
                words.append(current)
            current = []
        else:
            current.append(ph)
    text_words = chunk.text.split()
    out_words = [
        {
            "word": text_words[i] if len(text_words) == len(words) else None,
            "phonemes": "".join(p["phoneme"] for p in w),
            "start": w[0]["start"],
            "end": w[-1]["end"],
        }
        for i, w in enumerate(words)
    ]
    return {"phonemes": phones, "words": out_words}


def timestamps(result: Synthesis) -> dict:
    chunks = [chunk_timestamps(c) for c in result.chunks]
    return {
        "sample_rate": result.sample_rate,
        "duration": round(result.duration_s, 4),
        "words": [w for c in chunks for w in c["words"]],
        "phonemes": [p for c in chunks for p in c["phonemes"]],
    }


def write_timestamps(result: Synthesis, path: str | os.PathLike) -> Path:
    data = json.dumps(timestamps(result), ensure_ascii=False, indent=1)
    return atomic_write(path, lambda tmp: tmp.write_text(data, encoding="utf-8"))
