"""Evaluation texts shipped with the package.

The Harvard sentences (IEEE 1969 "Recommended Practice for Speech Quality Measurements", lists
1-36, public domain): phonetically balanced, ten per list.
"""

from __future__ import annotations

from pathlib import Path

HARVARD_FILE = Path(__file__).with_name("harvard_sentences_lists_01-36.txt")


def harvard_sentences(count: int | None = None, start: int = 0) -> list[str]:
    """Sentences `start .. start + count` of lists 1-36 (10 per list, 360 in all)."""
    lines = [s.strip() for s in HARVARD_FILE.read_text(encoding="utf-8").splitlines() if s.strip()]
    end = None if count is None else start + count
    return lines[start:end]
