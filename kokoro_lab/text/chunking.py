"""Split long text into chunks whose phoneme strings fit Kokoro's context of 510 symbols.

Axes: t phoneme symbols.

Text -> paragraphs (blank lines; a single newline is just whitespace) -> sentences -> clauses ->
words. Sentences are phonemized in batches (one espeak call per `batch_size` sentences) and packed
greedily, joined by one space, into chunks of at most `max_len` (CONTEXT_LENGTH = 510) symbols;
chunks never cross a paragraph. Only a sentence whose phonemes exceed `max_len` is split further:
into clauses at `, ; : — –` followed by a space, then a clause still too long into runs of words
(halved until each run fits, so words keep some context), and the pieces are packed again. Text
is never split inside a word (a whitespace-delimited token). The one exception is a
single word whose phonemes alone exceed `max_len`: its phonemes are cut into pieces of at most
`max_len` symbols (never right after a stress mark); the first piece carries the word's text and
the following pieces carry empty text, so the chunk texts still cover the input exactly once.

Text with no sound of its own (a lone "..." or "—") is attached to the neighbouring chunk instead
of becoming a chunk the model cannot speak. Work is streamed: `iter_chunks` holds one batch of
sentences and two chunks at a time, so memory stays bounded for any length of text.

misaki's English (the official v1.0 front end) is chunked as hexgrad's `KPipeline` chunks it,
from misaki's tokens rather than from text (`iter_token_chunks`): the text is split at newlines,
each line is phonemized whole, and tokens are packed until the next would pass 510 symbols; the
chunk then ends at the last sentence end (`!.?…`), else the last `:;`, else the last `,—` (a closing
`)` or `”` stays with it) whose remainder fits, else at the size limit. Chunks carry their
tokens as `Word`s, so word timestamps come from misaki's own word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.errors import UserValueError
from kokoro_lab.text.g2p import G2P, get_g2p
from kokoro_lab.text.vocab import is_speakable

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_CLOSERS = "\"'”’)\\]»"
_CJK_CLOSERS = "」』）】〉》"
# Chinese and Japanese end sentences (。！？) and clauses (、，；：) without a following space.
_SENTENCE = re.compile(
    rf"\S.*?(?:[.!?…]+[{_CLOSERS}]*(?= |$)|[。！？]+[{_CJK_CLOSERS}{_CLOSERS}]*|$)"
)
_CLAUSE = re.compile(rf"\S.*?(?:[,;:—–]+[{_CLOSERS}]*(?= |$)|[、，；：]+[{_CJK_CLOSERS}]*|$)")
_PS_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"”)]*(?= |$)|$)")
_PS_CLAUSE = re.compile(r"\S.*?(?:[,;:—]+[\"”)]*(?= |$)|$)")
_STRESS = "ˈˌ"


@dataclass(frozen=True)
class Word:
    """A G2P token: its text, phonemes ("" when unspoken) and whether a space follows it."""

    text: str
    phonemes: str
    whitespace: bool


@dataclass(frozen=True)
class Chunk:
    """One model call's worth of text: `phonemes` has at most CONTEXT_LENGTH (510) symbols.
    `words` (token G2Ps only): the tokens whose phonemes, each followed by a space when
    `whitespace`, make up `phonemes`."""

    text: str
    phonemes: str
    words: tuple[Word, ...] = ()


def _check_max_len(max_len: int) -> None:
    if not 1 <= max_len <= CONTEXT_LENGTH:
        raise UserValueError(
            f"max_len={max_len} must be in 1..{CONTEXT_LENGTH} (the model's phoneme context)"
        )


def iter_paragraphs(text: str) -> Iterator[str]:
    """Paragraphs separated by blank lines, whitespace collapsed, empty ones skipped."""
    start = 0
    for m in _BLANK_LINE.finditer(text):
        if para := " ".join(text[start : m.start()].split()):
            yield para
        start = m.end()
    if para := " ".join(text[start:].split()):
        yield para


def split_sentences(paragraph: str) -> list[str]:
    """Sentences ending in . ! ? … (plus closing quotes/brackets) followed by a space."""
    return _SENTENCE.findall(paragraph)


def split_clauses(sentence: str) -> list[str]:
    """Clauses ending in , ; : — – (plus closing quotes/brackets) followed by a space."""
    return _CLAUSE.findall(sentence)


def cut_phonemes(phonemes: str, max_len: int = CONTEXT_LENGTH) -> list[str]:
    """Hard-cut a phoneme string (t) into pieces of <= max_len symbols, never leaving a stress mark
    at the end of a piece (it belongs to the vowel that follows). Last resort for one huge word."""
    _check_max_len(max_len)
    pieces, start = [], 0
    while len(phonemes) - start > max_len:
        end = start + max_len
        while end - 1 > start and phonemes[end - 1] in _STRESS:
            end -= 1
        pieces.append(phonemes[start:end])
        start = end
    pieces.append(phonemes[start:])
    return [p for p in pieces if p]


def _pack(pieces: Iterable[str], max_len: int) -> list[str]:
    """Greedily join pieces (each <= max_len) with one space into strings of <= max_len."""
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 1 + len(piece) <= max_len:
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def chunk_phonemes(phonemes: str, max_len: int = CONTEXT_LENGTH) -> list[str]:
    """A phoneme string (t) -> strings of <= max_len symbols, for users who pass phonemes directly.

    Splits at sentence punctuation, then clause punctuation, then spaces, then (one huge word) a
    hard cut; the pieces are packed greedily, joined by one space.
    """
    _check_max_len(max_len)
    phonemes = " ".join(phonemes.split())
    if not phonemes:
        return []

    def split(ps: str, level: int) -> list[str]:
        if len(ps) <= max_len:
            return [ps]
        if level == 0:
            parts = _PS_SENTENCE.findall(ps)
        elif level == 1:
            parts = _PS_CLAUSE.findall(ps)
        elif level == 2:
            parts = ps.split(" ")
        else:
            return cut_phonemes(ps, max_len)
        return [q for p in parts for q in split(p, level + 1)]

    return _pack(split(phonemes, 0), max_len)


class _Packer:
    """Greedy packing of (text, phonemes) units into chunks, with one chunk of lookahead so that
    unspeakable units ("...", "—") join a neighbour instead of standing alone."""

    def __init__(self, max_len: int):
        self.max_len = max_len
        self.texts: list[str] = []
        self.ps = ""
        self.pending: Chunk | None = None  # finished, speakable, not yet yielded
        self.carry: Chunk | None = None  # unspeakable text waiting for the next chunk

    def add(self, text: str, ps: str) -> Iterator[Chunk]:
        if self.texts and len(self.ps) + 1 + len(ps) > self.max_len:
            yield from self.flush()
        self.texts.append(text)
        self.ps = f"{self.ps} {ps}" if self.ps and ps else self.ps or ps

    def flush(self) -> Iterator[Chunk]:
        """End the current chunk (at a size limit or a paragraph end)."""
        if not self.texts:
            return
        chunk = Chunk(" ".join(t for t in self.texts if t), self.ps)
        self.texts, self.ps = [], ""
        if not is_speakable(chunk.phonemes):
            if self.pending is not None:
                self.pending = self._merge(self.pending, chunk, keep=self.pending)
            else:
                self.carry = chunk if self.carry is None else self._merge(self.carry, chunk, chunk)
            return
        if self.carry is not None:
            chunk, self.carry = self._merge(self.carry, chunk, keep=chunk), None
        if self.pending is not None:
            yield self.pending
        self.pending = chunk

    def finish(self) -> Iterator[Chunk]:
        yield from self.flush()
        if self.pending is None:
            if self.carry is not None:
                raise UserValueError(
                    f"text {self.carry.text[:80]!r} has no speakable symbol (phonemes "
                    f"{self.carry.phonemes!r}): pass text with words"
                )
            return
        yield self.pending
        self.pending = None

    def _merge(self, a: Chunk, b: Chunk, keep: Chunk) -> Chunk:
        """Texts joined; phonemes joined when they fit, else the speakable side's (`keep`)."""
        text = " ".join(t for t in (a.text, b.text) if t)
        joined = " ".join(p for p in (a.phonemes, b.phonemes) if p)
        return Chunk(text, joined if len(joined) <= self.max_len else keep.phonemes)


def _split_words(words: list[str], g2p: G2P, max_len: int) -> Iterator[tuple[str, str]]:
    """Halve a run of words until each half's phonemes fit, so words keep some context (espeak
    reads "a" alone as the letter name); a single word that still does not fit is hard-cut."""
    text = " ".join(words)
    ps = g2p.phonemize_batch([text])[0]
    if len(ps) <= max_len:
        yield text, ps
    elif len(words) == 1:
        for i, piece in enumerate(cut_phonemes(ps, max_len)):
            yield (text if i == 0 else ""), piece
    else:
        mid = len(words) // 2
        yield from _split_words(words[:mid], g2p, max_len)
        yield from _split_words(words[mid:], g2p, max_len)


def _split_long_sentence(sentence: str, g2p: G2P, max_len: int) -> Iterator[tuple[str, str]]:
    """(text, phonemes) units of <= max_len symbols for a sentence too long for one chunk:
    its clauses, and word runs of the clauses that are still too long."""
    clauses = split_clauses(sentence)
    clause_ps = g2p.phonemize_batch(clauses) if len(clauses) > 1 else [None]
    for clause, ps in zip(clauses, clause_ps, strict=True):
        if ps is not None and len(ps) <= max_len:
            yield clause, ps
        else:
            yield from _split_words(clause.split(), g2p, max_len)


def iter_chunks(
    text: str,
    g2p: G2P | str,
    max_len: int = CONTEXT_LENGTH,
    batch_size: int = 64,
    first_alone: bool = False,
) -> Iterator[Chunk]:
    """Text -> Chunks whose phonemes have <= max_len symbols, streamed (see module doc).

    `g2p` is a G2P object or an espeak language ("en-us"). `first_alone` ends the first chunk
    after the first sentence, so a streaming caller's first audio costs one sentence's work.
    Raises ValueError when the text is empty or has nothing speakable at all.
    """
    _check_max_len(max_len)
    if batch_size < 1:
        raise UserValueError(f"batch_size={batch_size} must be >= 1")
    if not text or not text.strip():
        raise UserValueError(f"text {text!r} is empty or whitespace only: pass words to speak")
    g2p = get_g2p(g2p) if isinstance(g2p, str) else g2p
    packer = _Packer(max_len)

    def sentences() -> Iterator[tuple[str, bool]]:
        for para in iter_paragraphs(text):
            sents = split_sentences(para)
            for i, s in enumerate(sents):
                yield s, i == len(sents) - 1  # True: the paragraph ends after this sentence

    stream = sentences()
    first = first_alone
    # A small first batch: the first chunk should not wait for 64 sentences of G2P.
    while batch := list(islice(stream, 4 if first_alone and first else batch_size)):
        phonemes = g2p.phonemize_batch([s for s, _ in batch])
        for (sentence, para_end), ps in zip(batch, phonemes, strict=True):
            if len(ps) <= max_len:
                yield from packer.add(sentence, ps)
            else:
                for unit_text, unit_ps in _split_long_sentence(sentence, g2p, max_len):
                    yield from packer.add(unit_text, unit_ps)
            if para_end or (first and is_speakable(ps)):
                first = False
                yield from packer.flush()
    yield from packer.finish()


def chunk_text(
    text: str,
    g2p: G2P | str,
    max_len: int = CONTEXT_LENGTH,
    batch_size: int = 64,
) -> list[Chunk]:
    """All chunks of `text` as a list (see `iter_chunks` to stream them)."""
    return list(iter_chunks(text, g2p, max_len=max_len, batch_size=batch_size))


# ---- token chunking (misaki English, as KPipeline.en_tokenize) -------------------------------

#: Where a too-long run of tokens may end, in order of preference (KPipeline's waterfall).
_WATERFALL = (frozenset("!.?…"), frozenset(":;"), frozenset(",—"))
_BUMPS = frozenset(")”")
_SENTENCE_END = frozenset("!.?…")


def _words_ps(words: list[Word]) -> str:
    return "".join(w.phonemes + (" " if w.whitespace else "") for w in words).strip()


def _words_text(words: list[Word]) -> str:
    return "".join(w.text + (" " if w.whitespace else "") for w in words).strip()


def _cut_point(words: list[Word], next_count: int, max_len: int) -> int:
    """How many leading words to emit when the next word would pass max_len symbols."""
    for marks in _WATERFALL:
        z = next((i for i in reversed(range(len(words))) if words[i].phonemes in marks), None)
        if z is None:
            continue
        z += 1
        if z < len(words) and words[z].phonemes in _BUMPS:
            z += 1
        if next_count - len(_words_ps(words[:z])) <= max_len:
            return z
    return len(words)


def token_chunks(
    words: Iterable[Word], max_len: int = CONTEXT_LENGTH, first_alone: bool = False
) -> Iterator[Chunk]:
    """One line's tokens -> Chunks of <= max_len symbols, cut as KPipeline cuts them (see module
    doc). `first_alone` also ends the first chunk after its first sentence end (streaming).
    Chunks may be unspeakable (punctuation only); a single word longer than max_len is cut."""
    _check_max_len(max_len)
    run: list[Word] = []
    count = 0

    def emit(ws: list[Word]) -> Iterator[Chunk]:
        ps = _words_ps(ws)
        pieces = cut_phonemes(ps, max_len) if len(ps) > max_len else [ps]
        for i, piece in enumerate(pieces):
            yield Chunk(_words_text(ws) if i == 0 else "", piece, tuple(ws) if i == 0 else ())

    for w in words:
        next_ps = w.phonemes + (" " if w.whitespace else "")
        if count + len(next_ps.rstrip()) > max_len and run:
            z = _cut_point(run, count + len(next_ps.rstrip()), max_len)
            yield from emit(run[:z])
            run = run[z:]
            count = len(_words_ps(run))
            if not run:
                next_ps = next_ps.lstrip()
        run.append(w)
        count += len(next_ps)
        if first_alone and w.phonemes in _SENTENCE_END and is_speakable(_words_ps(run)):
            first_alone = False
            yield from emit(run)
            run, count = [], 0
    if run:
        yield from emit(run)


def iter_token_chunks(
    text: str, g2p, max_len: int = CONTEXT_LENGTH, first_alone: bool = False
) -> Iterator[Chunk]:
    """Text -> speakable Chunks through a token G2P (`g2p.tokens(line)`; misaki English): lines
    split at newlines, each line's tokens chunked by `token_chunks`. Raises ValueError when the
    text is empty or nothing in it is speakable."""
    if not text or not text.strip():
        raise UserValueError(f"text {text!r} is empty or whitespace only: pass words to speak")
    spoken = False
    for line in re.split(r"\n+", text.strip()):
        if not line.strip():
            continue
        words = [Word(t.text, t.phonemes or "", bool(t.whitespace)) for t in g2p.tokens(line)]
        for chunk in token_chunks(words, max_len, first_alone and not spoken):
            if is_speakable(chunk.phonemes):
                spoken = True
                yield chunk
    if not spoken:
        raise UserValueError(f"text {text[:80]!r} has no speakable symbol: pass text with words")


# ---- grapheme chunking (misaki ja/zh and espeak languages, as KPipeline's non-English path) ----

#: KPipeline packs sentences into chunks of at most this many characters before G2P.
GRAPHEME_CHUNK_CHARS = 400
_KP_SENTENCE = re.compile(r"([.!?]+)")


def grapheme_chunks(line: str, max_chars: int = GRAPHEME_CHUNK_CHARS) -> list[str]:
    """One line -> texts of <= max_chars characters where sentences allow, cut after `.!?` runs
    as KPipeline cuts them (a single longer sentence stays whole)."""
    parts = _KP_SENTENCE.split(line)
    chunks, current = [], ""
    for i in range(0, len(parts), 2):
        sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
        if len(current) + len(sentence) <= max_chars:
            current += sentence
        else:
            if current:
                chunks.append(current.strip())
            current = sentence
    if current:
        chunks.append(current.strip())
    return [c for c in chunks if c]


def iter_grapheme_chunks(
    text: str, g2p: G2P, max_len: int = CONTEXT_LENGTH, first_alone: bool = False
) -> Iterator[Chunk]:
    """Text -> speakable Chunks as KPipeline makes them for languages other than English: lines
    split at newlines, `grapheme_chunks` of each phonemized whole. Where KPipeline would
    truncate a chunk whose phonemes pass max_len, that chunk is split by `iter_chunks` instead
    (sentences, clauses, words), and so is the first chunk under `first_alone`."""
    if not text or not text.strip():
        raise UserValueError(f"text {text!r} is empty or whitespace only: pass words to speak")
    spoken = False
    for line in re.split(r"\n+", text.strip()):
        pieces = grapheme_chunks(line) if line.strip() else []
        for piece, ps in zip(pieces, g2p.phonemize_batch(pieces) if pieces else [], strict=True):
            if len(ps) > max_len or (first_alone and not spoken):
                sub = iter_chunks(piece, g2p, max_len=max_len, first_alone=first_alone)
                for chunk in sub:
                    spoken = True
                    yield chunk
            elif is_speakable(ps):
                spoken = True
                yield Chunk(piece, ps)
    if not spoken:
        raise UserValueError(f"text {text[:80]!r} has no speakable symbol: pass text with words")
