"""What every G2P of the front end is: a language, a batch call, and a checked single call.

Axes: t phoneme symbols.

A G2P subclass sets `lang` and implements `phonemize_batch(texts) -> phoneme strings` (no checks:
"" or punctuation-only results are what chunking wants). `g2p(text)` (or `g2p.phonemize(text)`)
is the checked form: empty text, or text that gives no speakable symbol, is a user error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from kokoro_lab.errors import UserValueError
from kokoro_lab.text.vocab import filter_vocab, is_speakable

log = logging.getLogger(__name__)
_LINES = re.compile(r"\n+")


class PhonemizerBase:
    """Base of the G2P classes (espeak, espeak-ipa, misaki English, Japanese, Mandarin)."""

    lang: str

    def phonemize_batch(self, texts: Sequence[str]) -> list[str]:
        """Texts (n) -> phoneme strings (n), unchecked."""
        raise NotImplementedError

    def __call__(self, text: str) -> str:
        """Text -> phoneme string (t). Raises UserValueError for empty text or text with no
        sound."""
        if not text or not text.strip():
            raise UserValueError(f"text {text!r} is empty or whitespace only: pass words to speak")
        ps = self.phonemize_batch([text])[0]
        if not is_speakable(ps):
            raise UserValueError(
                f"text {text[:80]!r} gives phonemes {ps!r} with no speakable symbol in "
                f"{self.lang}: pass text with words (punctuation alone is not spoken)"
            )
        return ps

    def phonemize(self, text: str) -> str:
        return self(text)


class MisakiLineG2P(PhonemizerBase):
    """A misaki G2P object (`backend(line) -> (phonemes, tokens)`, made by `_load()` on first
    use) run line by line, as KPipeline splits text at newlines; output filtered to the Kokoro
    vocabulary (the model drops other symbols silently too)."""

    def __init__(self):
        self._backend = None

    def _load(self):
        raise NotImplementedError

    @property
    def backend(self):
        if self._backend is None:
            self._backend = self._load()
            log.debug("%s started", type(self).__name__)
        return self._backend

    def phonemize_batch(self, texts: Sequence[str]) -> list[str]:
        """Texts (n) -> phoneme strings (n); a one-line text gives exactly
        `filter_vocab(backend(text)[0])`; lines are joined by one space."""
        out = []
        for text in texts:
            lines = [line.strip() for line in _LINES.split(text.strip())]
            out.append(filter_vocab(" ".join(self.backend(x)[0] for x in lines if x)))
        return out
