"""Word and character error rates, corpus level, with a per-utterance breakdown.

    WER = (S + D + I) / N

S substitutions, D deletions, I insertions of the minimum-edit (Levenshtein) alignment of the
hypothesis to the reference, N reference words, all summed over the corpus before dividing (so
long utterances weigh more than short ones; this is not a mean of per-utterance rates). The
result is a fraction in [0, inf), not a percent; above 1 when insertions pile up. CER is the same
over characters of the normalized text, spaces included (as jiwer counts them).

Both sides are normalized first by Whisper's English normaliser
(`kokoro_lab.metrics.text_norm.english_normalizer`: lowercase, no punctuation, contractions
expanded, numbers as digits, American spelling), as published Whisper WERs are, so "7 cats." vs
"seven cats" gives 0. jiwer does the alignment, on the normalized words split at single spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from kokoro_lab.errors import UserValueError
from kokoro_lab.metrics.text_norm import english_normalizer

Unit = Literal["word", "char"]


@dataclass(frozen=True)
class UtteranceErrors:
    """Edit counts of one normalized (reference, hypothesis) pair."""

    reference: str
    hypothesis: str
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """errors / reference_length; 0 for an empty pair, inf for output against empty text."""
        return _ratio(self.errors, self.reference_length)


@dataclass(frozen=True)
class CorpusErrors:
    """Summed edit counts over a corpus plus the per-utterance rows they came from."""

    unit: Unit
    utterances: tuple[UtteranceErrors, ...]

    @property
    def substitutions(self) -> int:
        return sum(u.substitutions for u in self.utterances)

    @property
    def deletions(self) -> int:
        return sum(u.deletions for u in self.utterances)

    @property
    def insertions(self) -> int:
        return sum(u.insertions for u in self.utterances)

    @property
    def errors(self) -> int:
        return sum(u.errors for u in self.utterances)

    @property
    def reference_length(self) -> int:
        return sum(u.reference_length for u in self.utterances)

    @property
    def rate(self) -> float:
        """Corpus error rate: total errors / total reference length (a fraction)."""
        return _ratio(self.errors, self.reference_length)


def _ratio(errors: int, length: int) -> float:
    if length == 0:
        return 0.0 if errors == 0 else float("inf")
    return errors / length


def _as_list(texts: str | Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise UserValueError(f"{name} must be strings, got {bad[0]} among them")
    return texts


def _tokens(text: str, unit: Unit) -> list[str]:
    if not text:
        return []
    return text.split(" ") if unit == "word" else list(text)


def _align(reference: str, hypothesis: str, unit: Unit) -> UtteranceErrors:
    ref_tokens, hyp_tokens = _tokens(reference, unit), _tokens(hypothesis, unit)
    if not ref_tokens or not hyp_tokens:  # jiwer rejects empty references; the answer is plain
        s, d, i = 0, len(ref_tokens), len(hyp_tokens)
    else:
        import jiwer

        process = jiwer.process_words if unit == "word" else jiwer.process_characters
        out = process(reference, hypothesis)
        s, d, i = out.substitutions, out.deletions, out.insertions
    return UtteranceErrors(reference, hypothesis, s, d, i, len(ref_tokens))


def error_counts(
    references: str | Sequence[str],
    hypotheses: str | Sequence[str],
    unit: Unit = "word",
    normalize: Callable[[str], str] | None = None,
) -> CorpusErrors:
    """references, hypotheses: one string or equal-length sequences -> CorpusErrors with the
    corpus rate (`.rate`) and one `UtteranceErrors` row per pair (`.utterances`).
    normalize: applied to both sides (default: Whisper's English rules, `english_normalizer()`);
    it must return words separated by single spaces, no leading or trailing space."""
    if unit not in ("word", "char"):
        raise UserValueError(f"unit must be 'word' or 'char', got {unit!r}")
    refs = _as_list(references, "references")
    hyps = _as_list(hypotheses, "hypotheses")
    if len(refs) != len(hyps):
        raise UserValueError(
            f"got {len(refs)} references but {len(hyps)} hypotheses: pass one hypothesis per "
            "reference, in the same order"
        )
    if not refs:
        raise UserValueError("references is empty: pass at least one (reference, hypothesis) pair")
    normalize = normalize or english_normalizer()
    rows = tuple(_align(normalize(r), normalize(h), unit) for r, h in zip(refs, hyps, strict=True))
    return CorpusErrors(unit, rows)


def wer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Corpus word error rate as a fraction; see the module docstring."""
    return error_counts(references, hypotheses, "word").rate


def cer(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Corpus character error rate as a fraction; see the module docstring."""
    return error_counts(references, hypotheses, "char").rate
