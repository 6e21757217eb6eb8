"""Raw espeak-ng IPA as the G2P: what kokoro-onnx feeds the model, or the v0.19 "seed" front end.

Axes: t phoneme symbols (one character each, all in `kokoro_lab.text.vocab.VOCAB`).

Kokoro v1.0 was trained on misaki phonemes (`kokoro_lab.text.g2p` maps espeak output to them).
This module is the comparison point that needs no mapping at all: espeak-ng's IPA filtered to the
vocabulary, as two public front ends do it.

`seed_fixes=False`, kokoro-onnx 0.6.1 (PyPI, the newest release; thewh1teagle/kokoro-onnx
`src/kokoro_onnx/tokenizer.py` and `__init__.py`). `Tokenizer.phonemize`, unchanged in substance
since the March 2025 refactor (#136) that dropped the v0.19 normalization, does for any language:

1. `text.strip()` (its `normalize_text`; no other text normalization since that refactor),
2. `phonemizer.phonemize(text, lang, preserve_punctuation=True, with_stress=True)` with every
   other argument at its default: espeak backend, no tie, `language_switch="keep-flags"` (so
   espeak's switch flags reach the model as symbols: French "weekend" is "(en)wiːkˈɛnd(fr)"),
   word separator " ", `strip=False`. A str is split into lines at newlines, blank lines
   dropped, each line phonemized on its own and the results joined by newlines,
3. keep only vocabulary symbols (this drops the newlines), `.strip()`,

and `Kokoro._prepare` (new in 0.6) then collapses whitespace runs to one space. kokoro-onnx
0.6.1 requires `phonemizer>=3.4.0` and `espeakng-loader>=0.2.4`, the versions installed here
(before 0.6 it used `phonemizer-fork` 3.3.2, which also split "1.5" and "1,000" at the mark).

`seed_fixes=True`, English only: hexgrad/Kokoro-82M's original `kokoro.py` (the v0.19 era,
December 2024 - January 2025; read in the copies PocketCoder/Kokoro-82M `kokoro.py` and
NeuralFalconYT/kokoro-tts `kokoro.py`, and in kokoro-onnx `src/kokoro_onnx/tokenizer.py` before
March 2025, which carried the same code). Its `normalize_text` (quotes, "Dr."/"Mr."/"Ms."/
"Mrs."/"etc.", "yeah", times, years, thousands separators, money, decimals, number ranges,
letter plurals and initialisms; see `normalize_text_v019`) runs first, then one espeak call on
the whole text as one line (same backend settings), then `fix_phonemes_v019`: "Kokoro" said
kˈoʊkəɹoʊ, ʲ -> j, r -> ɹ, x -> k, ɬ -> l, a space before "hundred", a detached plural " z"
attached, and in en-us the flapped "ninety" (nˈaɪnti -> nˈaɪndi), then the vocabulary filter
and `.strip()`.

Two things differ from the v0.19 file, both because the model here is v1.0 on espeak-ng 1.52:
the vocabulary filter is v1.0's (it lacks v0.19's « », so a parenthesis, which `normalize_text`
hides as « », is dropped), and the Kokoro fix also matches espeak-ng 1.52's en-us spelling
kəkˈɔːɹoʊ (the seed matched only kəkˈoːɹoʊ, which 1.52 no longer writes; the rules are shared
with `g2p.py`). Multi-line text keeps the seed's behaviour: one utterance, newlines dropped.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

from kokoro_lab.errors import UserValueError
from kokoro_lab.text.g2p import (
    _DETACHED_Z,
    _ESPEAK_PUNCTUATION,
    _HUNDRED,
    ENGLISH_WORD_FIXES,
    espeak_backend,
    is_english,
    lang_for_voice,
)
from kokoro_lab.text.protocol import PhonemizerBase
from kokoro_lab.text.vocab import VOCAB, filter_vocab

log = logging.getLogger(__name__)

# --- v0.19 text normalization ------------------------------------------------------------------

#: Full-width CJK punctuation -> ASCII mark + space.
_CJK_PUNCTUATION = dict(zip("、。！，：；？", ",.!,:;?", strict=True))
_OTHER_SPACE = re.compile(r"[^\S \n]")  # whitespace that is neither a space nor a newline
_SPACE_RUN = re.compile(r" {2,}")
_SPACES_ONLY_LINE = re.compile(r"(?<=\n) +(?=\n)")
#: Titles and abbreviations, in the seed's order: (pattern, replacement).
_ABBREVIATIONS: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"\bD[Rr]\.(?= [A-Z])"), "Doctor"),
    (re.compile(r"\b(?:Mr\.|MR\.(?= [A-Z]))"), "Mister"),
    (re.compile(r"\b(?:Ms\.|MS\.(?= [A-Z]))"), "Miss"),
    (re.compile(r"\b(?:Mrs\.|MRS\.(?= [A-Z]))"), "Mrs"),
    (re.compile(r"\betc\.(?! [A-Z])"), "etc"),
    (re.compile(r"(?i)\b(y)eah?\b"), r"\1e'a"),
)
#: A decimal, a four-digit number (a year, optionally plural) or a clock time h:mm (h 1..12).
_NUMBER_GROUP = re.compile(r"\d*\.\d+|\b\d{4}s?\b|(?<!:)\b(?:[1-9]|1[0-2]):[0-5]\d\b(?!:)")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SCALE = r"(?: hundred| thousand| (?:[bm]|tr)illion)*"
_MONEY = re.compile(rf"(?i)[$£]\d+(?:\.\d+)?{_SCALE}\b|[$£]\d+\.\d\d?\b")
_DECIMAL = re.compile(r"\d*\.\d+")
_NUMBER_RANGE = re.compile(r"(?<=\d)-(?=\d)")
_DIGIT_THEN_S = re.compile(r"(?<=\d)S")
_LETTER_PLURAL = re.compile(r"(?<=[BCDFGHJ-NP-TV-Z])'?s\b")
_X_PLURAL = re.compile(r"(?<=X')S\b")
_INITIALISM_BEFORE_WORD = re.compile(r"(?:[A-Za-z]\.){2,} [a-z]")
_DOT_BETWEEN_LETTERS = re.compile(r"(?i)(?<=[A-Z])\.(?=[A-Z])")


def _say_number_group(m: re.Match) -> str:
    """Times and years as spoken: "3:00" -> "3 o'clock", "3:05" -> "3 oh 5", "1990s" ->
    "19 90s", "1905" -> "19 oh 5", "1900" -> "19 hundred"; decimals and years espeak reads well
    as whole numbers (before 1100, or x00y such as 2005) stay as they are."""
    group = m.group()
    if "." in group:
        return group
    if ":" in group:
        hours, minutes = (int(n) for n in group.split(":"))
        if minutes == 0:
            return f"{hours} o'clock"
        return f"{hours} oh {minutes}" if minutes < 10 else f"{hours} {minutes}"
    year = int(group[:4])
    if year < 1100 or year % 1000 < 10:
        return group
    century, rest = group[:2], int(group[2:4])
    plural = "s" if group.endswith("s") else ""
    if year % 1000 >= 100:  # x1xx..x9xx: "nineteen hundred", "nineteen oh five"
        if rest == 0:
            return f"{century} hundred{plural}"
        if rest < 10:
            return f"{century} oh {rest}{plural}"
    return f"{century} {rest}{plural}"


def _say_money(m: re.Match) -> str:
    """Money as spoken: "$5" -> "5 dollars", "$1" -> "1 dollar", "$5 million" -> "5 million
    dollars", "$5.50" -> "5 dollars and 50 cents", "£1.01" -> "1 pound and 1 penny"."""
    amount = m.group()
    dollars = amount[0] == "$"
    unit = "dollar" if dollars else "pound"
    number = amount[1:]
    if number[-1].isalpha():  # a scale word follows
        return f"{number} {unit}s"
    if "." not in number:
        return f"{number} {unit}{'' if number == '1' else 's'}"
    whole, fraction = number.split(".")
    cents = int(fraction.ljust(2, "0"))
    if dollars:
        coins = "cent" if cents == 1 else "cents"
    else:
        coins = "penny" if cents == 1 else "pence"
    return f"{whole} {unit}{'' if whole == '1' else 's'} and {cents} {coins}"


def _say_decimal(m: re.Match) -> str:
    """Decimals as spoken: "3.14" -> "3 point 1 4" (digits after the point one by one)."""
    whole, fraction = m.group().split(".")
    return f"{whole} point {' '.join(fraction)}"


def normalize_text_v019(text: str) -> str:
    """Text -> text as hexgrad's v0.19 `kokoro.py` prepared it for espeak (English).

    Quotes: ‘ ’ -> ', « » and “ ” -> ", ( ) hidden as « » (phonemizer's language-flag removal
    would otherwise eat them); CJK punctuation -> ASCII; whitespace tidied (newlines kept);
    Dr./Mr./Ms./Mrs./etc./yeah; times and years (`_say_number_group`); "1,000" -> "1000";
    money (`_say_money`); decimals (`_say_decimal`); "5-10" -> "5 to 10"; letter plurals
    ("CDs", "X's") and initialisms ("U.S.A." -> "U-S-A"). The rules run in the seed's order.
    """
    text = text.replace("‘", "'").replace("’", "'")
    text = text.replace("«", "“").replace("»", "”").replace("“", '"').replace("”", '"')
    text = text.replace("(", "«").replace(")", "»")
    for cjk, ascii_mark in _CJK_PUNCTUATION.items():
        text = text.replace(cjk, ascii_mark + " ")
    text = _OTHER_SPACE.sub(" ", text)
    text = _SPACE_RUN.sub(" ", text)
    text = _SPACES_ONLY_LINE.sub("", text)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = _NUMBER_GROUP.sub(_say_number_group, text)
    text = _THOUSANDS_COMMA.sub("", text)
    text = _MONEY.sub(_say_money, text)
    text = _DECIMAL.sub(_say_decimal, text)
    text = _NUMBER_RANGE.sub(" to ", text)
    text = _DIGIT_THEN_S.sub(" S", text)
    text = _LETTER_PLURAL.sub("'S", text)
    text = _X_PLURAL.sub("s", text)
    text = _INITIALISM_BEFORE_WORD.sub(lambda m: m.group().replace(".", "-"), text)
    text = _DOT_BETWEEN_LETTERS.sub("-", text)
    return text.strip()


# --- v0.19 phoneme fixes -----------------------------------------------------------------------

#: "Kokoro" as kˈoʊkəɹoʊ (wiktionary): g2p.py's word fixes, written without espeak's tie.
KOKORO_FIXES: tuple[tuple[str, str], ...] = tuple(
    (old.replace("^", ""), new.replace("^", "")) for old, new in ENGLISH_WORD_FIXES
)
#: Non-English espeak symbols the v0.19 vocabulary lacked -> their nearest English symbol.
SEED_SYMBOL_FIXES: tuple[tuple[str, str], ...] = (("ʲ", "j"), ("r", "ɹ"), ("x", "k"), ("ɬ", "l"))
#: American flapped "ninety" (not "nineteen", whose ti is long): nˈaɪnti -> nˈaɪndi.
_NINETY = re.compile(r"(?<=nˈaɪn)ti(?!ː)")


def fix_phonemes_v019(raw: str, lang: str) -> str:
    """Raw espeak IPA (no tie) of English -> the v0.19 seed's phoneme string, before the
    vocabulary filter (see the module doc for the rules)."""
    ps = raw
    for old, new in (*KOKORO_FIXES, *SEED_SYMBOL_FIXES):
        ps = ps.replace(old, new)
    ps = _HUNDRED.sub(" ", ps)
    ps = _DETACHED_Z.sub("z", ps)
    if lang == "en-us":
        ps = _NINETY.sub("di", ps)
    return ps


# --- the front end -----------------------------------------------------------------------------


def _has_words(line: str) -> bool:
    """False for a line of punctuation and whitespace only (phonemizer mis-counts such lines)."""
    return any(c not in _ESPEAK_PUNCTUATION and not c.isspace() for c in line)


class EspeakIPAG2P(PhonemizerBase):
    """Text -> espeak-ng IPA filtered to the Kokoro vocabulary; the backend starts on first use.

    lang: an espeak language ("en-us", "en-gb", "fr-fr", ...).
    seed_fixes: False for exactly kokoro-onnx's front end (any language); True for hexgrad's
        v0.19 seed front end (text normalization + phoneme fixes; English only).

    Same protocol as `kokoro_lab.text.g2p.G2P`: `phonemize_batch(texts)` and `__call__(text)`.
    """

    def __init__(self, lang: str, seed_fixes: bool = False):
        self.lang = lang_for_voice("", lang)
        self.seed_fixes = bool(seed_fixes)
        if self.seed_fixes and not is_english(self.lang):
            raise UserValueError(
                f"seed_fixes=True is English only (the v0.19 seed spoke en-us and en-gb), got "
                f"lang={self.lang!r}: pass seed_fixes=False for kokoro-onnx's plain espeak IPA"
            )
        self._backend = None

    def __repr__(self) -> str:
        return f"EspeakIPAG2P(lang={self.lang!r}, seed_fixes={self.seed_fixes})"

    @property
    def backend(self):
        """phonemizer's EspeakBackend with kokoro-onnx's (and the seed's) settings: punctuation
        kept, stress marks, no tie, language-switch flags kept."""
        if self._backend is None:
            self._backend = espeak_backend(self.lang)
        return self._backend

    def _lines(self, text: str) -> list[str]:
        """The utterances espeak receives for one text."""
        if self.seed_fixes:  # the seed passes its normalized text as one utterance
            line = normalize_text_v019(text)
            return [line] if line.strip() else []
        # kokoro-onnx strips the text; phonemizer.phonemize splits a str into its non-blank lines
        lines = text.strip().strip(os.linesep).split(os.linesep)
        return [s for line in lines if (s := line.strip(os.linesep)).strip()]

    def _espeak(self, groups: list[list[str]]) -> list[str]:
        """Utterances of each text -> one raw espeak string per text (its lines' outputs joined
        by newlines, as `phonemizer.phonemize` returns a str).

        All texts go through one backend call, except texts with a punctuation-only line:
        phonemizer can merge such a line with its neighbour, so each of those is phonemized
        alone, exactly as kokoro-onnx would phonemize it.
        """
        raw: list[str | None] = [None if lines else "" for lines in groups]
        batch = [k for k, lines in enumerate(groups) if lines and all(map(_has_words, lines))]
        flat = [line for k in batch for line in groups[k]]
        if flat:
            out = self.backend.phonemize(flat)
            if len(out) == len(flat):
                pieces = iter(out)
                for k in batch:
                    raw[k] = os.linesep.join(next(pieces) for _ in groups[k])
        for k, lines in enumerate(groups):
            if raw[k] is None:  # not batchable, or the batch came back misaligned
                out = self.backend.phonemize(lines)
                if self.seed_fixes:  # the seed kept the first output line only
                    raw[k] = out[0] if out else ""
                else:  # phonemizer.phonemize joins a str's lines with newlines
                    raw[k] = os.linesep.join(out)
        return raw

    def _finish(self, raw: str) -> str:
        """Raw espeak output of one text -> vocabulary symbols, as the chosen front end does."""
        ps = fix_phonemes_v019(raw, self.lang) if self.seed_fixes else raw
        kept = filter_vocab(ps)
        if log.isEnabledFor(logging.DEBUG) and len(kept) != len(ps):
            dropped = sorted(set(ps) - set(VOCAB) - {"\n"})
            log.debug("espeak IPA dropped %r (not Kokoro symbols)", dropped)
        if self.seed_fixes:
            return kept.strip()
        return " ".join(kept.split())  # kokoro-onnx: strip, then Kokoro._prepare collapses runs

    def phonemize_batch(self, texts: Sequence[str]) -> list[str]:
        """Texts (n) -> phoneme strings (n), in one espeak call where that keeps each text's own
        result; may return "" or punctuation-only strings (no check), which chunking wants."""
        groups = [self._lines(text) for text in texts]
        return [self._finish(raw) for raw in self._espeak(groups)]
