"""Word and phoneme timestamps from predicted durations.

One duration frame is 600 samples at 24 kHz (25 ms): a token with d frames spans d * 600
samples. The boundary pads' frames are leading/trailing silence. Works for every language, since
it only needs the phoneme string (words are its space-separated groups; the chunk's text words are
attached when espeak kept the word count). Chunks from a token G2P (misaki English) carry their
tokens, and then words are misaki's own: each word's text with the span of its phonemes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kokoro_lab.config import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_lab.io import atomic_write
from kokoro_lab.pipeline import ChunkAudio, Synthesis
from kokoro_lab.text import VOCAB


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
    if chunk.words:
        return {"phonemes": phones, "words": _token_words(chunk, phones)}
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


def _token_words(chunk: ChunkAudio, phones: list[dict]) -> list[dict]:
    """Words from the chunk's G2P tokens. The chunk's phonemes are the tokens' phonemes, each
    followed by a space when the token is, with the ends stripped (as KPipeline joins them), so
    each token's symbols are found by offset; symbols outside the vocabulary are not spoken."""
    full = "".join(w.phonemes + (" " if w.whitespace else "") for w in chunk.words)
    offset = -(len(full) - len(full.lstrip()))
    spoken = [0]  # spoken[k]: vocabulary symbols among the first k characters
    for p in full.strip():
        spoken.append(spoken[-1] + (p in VOCAB))
    words = []
    for w in chunk.words:
        a, b = max(offset, 0), max(offset + len(w.phonemes), 0)
        span = phones[spoken[min(a, len(spoken) - 1)] : spoken[min(b, len(spoken) - 1)]]
        if span and any(c.isalnum() for c in w.text):
            words.append(
                {
                    "word": w.text,
                    "phonemes": w.phonemes,
                    "start": span[0]["start"],
                    "end": span[-1]["end"],
                }
            )
        offset += len(w.phonemes) + (1 if w.whitespace else 0)
    return words


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
