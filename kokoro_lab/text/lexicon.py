"""Pronunciation control: a user lexicon (`lexicon=FILE`) and misaki's inline markup.

Axes: t phoneme symbols.

A lexicon file has one entry a line, `word<TAB>phonemes` (UTF-8; blank lines and lines starting
with `#` are skipped). Phonemes are Kokoro symbols (`kokoro_lab.text.vocab.VOCAB`); a symbol
outside the vocabulary, a missing tab, an empty side or a word with spaces is an error that names
the file and line.

Case follows misaki's `Lexicon.grow_dictionary` (hexgrad/misaki `en.py`), so an entry matches the
same words whichever G2P runs: a lowercase entry (`kokoro`) also matches its capitalized form
(`Kokoro`); a capitalized entry (`Kokoro`) also matches the lowercase word; any other spelling
(`KOKORO`, `iPhone`) matches only itself. An entry written in both forms keeps each as written.

Inline markup is misaki's: `[word](/phonemes/)` speaks `word` with the given phonemes. Under
misaki it is misaki's own parser that reads it; `split_markup` gives the espeak front ends the
same syntax (the other misaki link features, stress and feature numbers, are misaki-only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.text.protocol import PhonemizerBase
from kokoro_lab.text.vocab import VOCAB

#: misaki's `LINK_REGEX` shape, restricted to the phoneme form `[text](/phonemes/)`.
_MARKUP = re.compile(r"\[([^\[\]]+)\]\(/([^()]*)/\)")
#: A word for lexicon matching: letters, digits, apostrophes and hyphens inside.
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")


def check_phonemes(phonemes: str, where: str) -> str:
    """Raise ValueError naming `where` when `phonemes` has a symbol outside the vocabulary."""
    bad = sorted({p for p in phonemes if p not in VOCAB})
    if bad:
        raise UserValueError(
            f"{where}: phonemes {phonemes!r} use {bad}, which are not Kokoro symbols; use only "
            "symbols of kokoro_lab.text.vocab.VOCAB (misaki's phoneme set)"
        )
    if not phonemes.strip():
        raise UserValueError(f"{where}: the phonemes are empty")
    return phonemes


def grow_case(entries: Mapping[str, str]) -> dict[str, str]:
    """Add the case forms misaki's lexicon matches (see module doc); explicit entries win."""
    grown: dict[str, str] = {}
    for word, ps in entries.items():
        if len(word) < 2:
            continue
        if word == word.lower():
            grown.setdefault(word.capitalize(), ps)
        elif word == word.lower().capitalize():
            grown.setdefault(word.lower(), ps)
    return {**grown, **entries}


def load_lexicon(path: str | os.PathLike) -> dict[str, str]:
    """`word<TAB>phonemes` lines -> {word: phonemes} as written (see `grow_case` for matching)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserFileError(
            f"lexicon file {str(path)!r} does not exist: pass lexicon=PATH to a UTF-8 file of "
            "word<TAB>phonemes lines"
        ) from None
    except UnicodeDecodeError as err:
        raise UserValueError(f"lexicon file {str(path)!r} is not UTF-8 text ({err})") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        if line.count("\t") != 1:
            raise UserValueError(
                f"{where}: {line!r} is not one word<TAB>phonemes pair (found "
                f"{line.count(chr(9))} tabs); separate the word and its phonemes by one tab"
            )
        word, ps = (s.strip() for s in line.split("\t"))
        if not word or any(c.isspace() for c in word):
            raise UserValueError(f"{where}: the word {word!r} must be one word without spaces")
        entries[word] = check_phonemes(ps, where)
    if not entries:
        raise UserValueError(f"lexicon file {str(path)!r} has no entries (word<TAB>phonemes lines)")
    return entries


def split_markup(text: str) -> list[tuple[str, str | None]]:
    """Text -> runs of (text, None) for the G2P and (word, phonemes) from `[word](/ps/)` markup."""
    runs: list[tuple[str, str | None]] = []
    start = 0
    for m in _MARKUP.finditer(text):
        if m.start() > start:
            runs.append((text[start : m.start()], None))
        runs.append((m.group(1), check_phonemes(m.group(2), f"markup {m.group(0)!r}")))
        start = m.end()
    if start < len(text):
        runs.append((text[start:], None))
    return runs


def split_lexicon_words(text: str, lexicon: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Text -> runs of (text, None) and (word, phonemes) for words found in a grown lexicon."""
    runs: list[tuple[str, str | None]] = []
    start = 0
    for m in _WORD.finditer(text):
        ps = lexicon.get(m.group(0))
        if ps is None:
            continue
        if m.start() > start:
            runs.append((text[start : m.start()], None))
        runs.append((m.group(0), ps))
        start = m.end()
    if start < len(text):
        runs.append((text[start:], None))
    return runs


class LexiconG2P(PhonemizerBase):
    """An espeak-style G2P (see `kokoro_lab.text.g2p.G2P`) with markup and a user lexicon on top:
    marked and lexicon words take their given phonemes, the text between them goes to the inner
    G2P in runs (so words keep their neighbours as context), and the pieces join with one space
    where the text had whitespace."""

    def __init__(self, inner, lexicon: Mapping[str, str] | None = None):
        self.inner = inner
        self.lang = inner.lang
        self.lexicon = grow_case(lexicon or {})

    def __repr__(self) -> str:
        return f"LexiconG2P({self.inner!r}, {len(self.lexicon)} entries)"

    def _runs(self, text: str) -> list[tuple[str, str | None]]:
        runs = []
        for piece, ps in split_markup(text):
            runs += [(piece, ps)] if ps is not None else split_lexicon_words(piece, self.lexicon)
        return runs

    def phonemize_batch(self, texts) -> list[str]:
        runs = [self._runs(t) for t in texts]
        todo = [r for rs in runs for r, ps in rs if ps is None]
        done = iter(self.inner.phonemize_batch(todo) if todo else [])
        out = []
        for rs in runs:
            pieces, spaced = [], []
            for text, ps in rs:
                pieces.append(next(done) if ps is None else ps)
                spaced.append((text[:1].isspace(), text[-1:].isspace()))
            joined = ""
            for i, piece in enumerate(pieces):
                gap = i > 0 and (spaced[i - 1][1] or spaced[i][0])
                joined = f"{joined} {piece}" if gap and joined and piece else joined + piece
            out.append(" ".join(joined.split()))
        return out
