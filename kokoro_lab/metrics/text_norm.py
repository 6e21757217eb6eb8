"""Text normalization for scoring ASR output against the input text (English).

Both sides of a WER/CER comparison go through `normalize_text`, so "7 cats." and "Seven cats"
compare equal. Steps, in order:
1. Unicode NFKC, lowercase.
2. Numbers become words: thousands separators dropped ("1,000" -> 1000), "50%" -> "fifty
   percent", ordinals ("21st" -> "twenty first"), decimals ("3.5" -> "three point five"), then
   integers ("1999" -> "one thousand nine hundred ninety nine"; no "and"). Integers of 16 digits
   or more are read digit by digit.
3. Apostrophes are deleted ("it's" -> "its"), every other non-alphanumeric character becomes a
   space (so "sea-shore" -> "sea shore"), and runs of whitespace collapse to one space.

Not handled (they stay a mismatch on both sides alike): years read as pairs ("nineteen ninety
nine"), currencies, abbreviations, British "and" in numbers, spelling variants.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalize_text(text: str) -> str:
    """Scoring normalization (see the module docstring): "It's 7:30, Dr. O'Neil!" -> "its seven
    thirty dr oneil"."""
    if not isinstance(text, str):
        raise UserValueError(f"normalize_text takes a str, got {type(text).__name__}: {text!r}")
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
    """Number of spoken words after normalization: "7 cats" -> 2, "1,000 cats" -> 3."""
    normalized = normalize_text(text)
    return len(normalized.split(" ")) if normalized else 0
