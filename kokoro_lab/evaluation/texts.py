"""Evaluation texts shipped with the package.

The Harvard sentences (IEEE 1969 "Recommended Practice for Speech Quality Measurements", lists
1-36, public domain): phonetically balanced, ten per list.

Numbers, dates and heteronyms (written for this project): 40 sentences with currency, times,
dates, ordinals, decimals, percentages, abbreviations, initialisms and heteronyms ("read",
"live", "lead", "close", ...), the text a front end most often gets wrong.
"""

from __future__ import annotations

from pathlib import Path

HARVARD_FILE = Path(__file__).with_name("harvard_sentences_lists_01-36.txt")
NUMBERS_FILE = Path(__file__).with_name("numbers_dates_heteronyms.txt")


def _lines(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def numbers_dates_sentences() -> list[str]:
    """The 40 sentences of numbers, dates, abbreviations and heteronyms."""
    return _lines(NUMBERS_FILE)


def harvard_sentences(count: int | None = None, start: int = 0) -> list[str]:
    """Sentences `start .. start + count` of lists 1-36 (10 per list, 360 in all)."""
    lines = _lines(HARVARD_FILE)
    end = None if count is None else start + count
    return lines[start:end]
