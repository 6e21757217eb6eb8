"""Text normalization for English: scoring ASR output (WER/CER) and counting spoken words.

Two forms, for two jobs:

`normalize_text` (WER/CER scoring; `kokoro_lab.metrics.error_rate` applies it to both sides):
Whisper's English normaliser, `EnglishTextNormalizer` from the PyPI package
`whisper-normalizer` (a copy of openai/whisper's `whisper/normalizers/english.py`, without
openai-whisper's torch/triton/numba requirements), so our WER is computed by the rules behind
published Whisper WERs (Radford et al. 2022, appendix C): lowercase; bracketed and parenthesized
text and fillers (um, uh, hmm) dropped; contractions and titles expanded ("it's" -> "it is",
"Dr." -> "doctor"); punctuation and diacritics removed; spelled-out numbers become digits
("seven cats" -> "7 cats", "twenty first" -> "21st", "ten dollars" -> "$10"); British spellings
become American ("colour" -> "color"). Whisper's output can end in a space: we strip it, as
jiwer's default transform does before counting words. whisper-normalizer 0.1.15 adds four
colloquial rules to openai/whisper's (kinda, sorta, dunno, cause -> because); the rest, the
spelling table included, is upstream's (compared with openai/whisper c0d2f62, June 2025).

`spoken_form` / `count_words` (speaking rate, words per minute): the text as read aloud, numbers
expanded to words, so "1,000 cats" counts 3 words. Steps, in order:
1. Unicode NFKC, lowercase.
2. Numbers become words: thousands separators dropped ("1,000" -> 1000), "50%" -> "fifty
   percent", ordinals ("21st" -> "twenty first"), decimals ("3.5" -> "three point five"), then
   integers ("1999" -> "one thousand nine hundred ninety nine"; no "and"). Integers of 16 digits
   or more are read digit by digit.
3. Apostrophes are deleted ("it's" -> "its"), every other non-alphanumeric character becomes a
   space (so "sea-shore" -> "sea shore"), and runs of whitespace collapse to one space.
Until whisper-normalizer replaced it, this was also the WER normalization (see
docs/wer_normalizer.md for what the change did to our numbers).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from kokoro_lab.errors import UserValueError

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_MAX_SPOKEN = 10**15  # from here on numbers are read digit by digit
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def integer_to_words(n: int) -> str:
    """Non-negative integer -> English cardinal, e.g. 1234 -> "one thousand two hundred thirty
    four". From 10**15 on the digits are read one by one."""
    if n < 0:
        raise UserValueError(f"integer_to_words takes a non-negative integer, got {n}")
    if n >= _MAX_SPOKEN:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {integer_to_words(rest)}" if rest else "")
    for scale, word in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{integer_to_words(head)} {word}" + (
                f" {integer_to_words(rest)}" if rest else ""
            )
    raise AssertionError("unreachable: every n >= 1000 has a scale")


def ordinal_to_words(n: int) -> str:
    """Non-negative integer -> English ordinal, e.g. 21 -> "twenty first", 40 -> "fortieth"."""
    *head, last = integer_to_words(n).split(" ")
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _digits_to_words(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


_THOUSANDS_SEP = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PERCENT = re.compile(r"(\d)\s*%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_DECIMAL = re.compile(r"(\d+)\.(\d+)")
_INTEGER = re.compile(r"\d+")
_APOSTROPHE = re.compile(r"['\u2019\u2018`]")
_NON_WORD = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def _check_str(text: object, caller: str) -> None:
    if not isinstance(text, str):
        raise UserValueError(f"{caller} takes a str, got {type(text).__name__}: {text!r}")


def spoken_form(text: str) -> str:
    """The text as read aloud, for counting words (see the module docstring): "It's 7:30, Dr.
    O'Neil!" -> "its seven thirty dr oneil"."""
    _check_str(text, "spoken_form")
    s = unicodedata.normalize("NFKC", text).lower()
    s = _THOUSANDS_SEP.sub("", s)
    s = _PERCENT.sub(r"\1 percent", s)
    s = _ORDINAL.sub(lambda m: f" {ordinal_to_words(int(m.group(1)))} ", s)
    s = _DECIMAL.sub(
        lambda m: f" {integer_to_words(int(m.group(1)))} point {_digits_to_words(m.group(2))} ", s
    )
    s = _INTEGER.sub(lambda m: f" {integer_to_words(int(m.group(0)))} ", s)
    s = _APOSTROPHE.sub("", s)
    s = _NON_WORD.sub(" ", s)
    return _SPACES.sub(" ", s).strip()


def count_words(text: str) -> int:
    """Number of spoken words (`spoken_form`): "7 cats" -> 2, "1,000 cats" -> 3."""
    normalized = spoken_form(text)
    return len(normalized.split(" ")) if normalized else 0


# --- WER/CER scoring: Whisper's rules ---------------------------------------------------------


def english_normalizer() -> Callable[[str], str]:
    """A Whisper English normaliser (see the module docstring): str -> normalized str, single
    spaces, stripped. Build one for many strings: building reads Whisper's 1,739-entry
    British-to-American spelling table (about 5 ms)."""
    from whisper_normalizer.english import EnglishTextNormalizer

    whisper = EnglishTextNormalizer()

    def normalize(text: str) -> str:
        _check_str(text, "normalize_text")
        return whisper(text).strip()

    return normalize


def normalize_text(text: str) -> str:
    """WER/CER scoring normalization, Whisper's English rules: "It's 7:30, Dr. Smith!" -> "it is 7
    30 doctor smith", "Seven cats." -> "7 cats"."""
    return english_normalizer()(text)
