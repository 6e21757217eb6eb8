"""Grapheme-to-phoneme: text -> Kokoro phoneme string, through espeak-ng (phonemizer).

Axes: t phoneme symbols (one character each, all in `kokoro_lab.text.vocab.VOCAB`).

espeak-ng comes from the PyPI package `espeakng-loader` (library + data), so no system install is
needed. Nothing starts at import: a `G2P(lang)` object creates its phonemizer backend on first use
and keeps it; `get_g2p(lang)` caches one object per language for the module-level `phonemize`.

Normalization (espeak IPA -> Kokoro v1.0 symbols). Kokoro v1.0 was trained on misaki phonemes, so
we follow hexgrad/misaki `misaki/espeak.py` (the version that pins `espeakng_loader` and v1.0
vs 2.0 rules): espeak runs with `tie="^"` so that digraphs arrive as `a^ɪ`, `t^ʃ`, ... and are
mapped to the single symbols the model knows:

- English (`EspeakFallback`, used by misaki for out-of-lexicon words): the `ENGLISH_E2M` table,
  then syllabic consonants `n̩` -> `ᵊn`, then US rules (`o^ʊ`->`O`, `ɜː`->`ɜɹ`, `ɪə`->`iə`, no
  `ː`) or GB rules (`e^ə`->`ɛː`, `iə`->`ɪə`, `ə^ʊ`->`Q`), then the v1.0 rules `ɾ`->`T`, `ʔ`->`t`.
  Two deliberate deviations, both so that misaki's own GB rules can fire on espeak 1.52 output:
  `e^ə`->`ɛː` runs *before* the table (whose `e`->`A` would otherwise make it unreachable), and
  the tied `i^ə` joins `iə`->`ɪə` (misaki's gold GB lexicon writes "hair" hˈɛː, "near" nˈɪə).
- Other languages (`EspeakG2P`, the v1.0 G2P for es/fr/hi/it/pt-br): the `GENERIC_E2M` digraph
  table, then tie bars and espeak's `-` (clitic joins) are dropped. The nasal tilde U+0303 is kept:
  it is in the v1.0 vocabulary. Japanese and Mandarin go through the same generic rules; the
  official pipeline uses misaki's ja/zh G2P instead, so espeak output for them is an approximation
  (tone digits and espeak's retroflex/apical dots are not Kokoro symbols and are dropped).

Before that, three word-level fixes of hexgrad's v0.19 `kokoro.py` apply to English: "Kokoro" is
said kˈOkəɹO (wiktionary), a space goes before "hundred" (espeak glues "onehundred"), and a
plural ` z` that espeak reads apart ("1990s" -> ...nˈInti z) is attached to its word. Every
output is finally filtered to the vocabulary, as both official pipelines do.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Sequence

from kokoro_lab.errors import UserValueError
from kokoro_lab.text.protocol import PhonemizerBase
from kokoro_lab.text.vocab import VOCAB, filter_vocab

log = logging.getLogger(__name__)

#: Voice-name first letter -> espeak language, as hexgrad's pipelines assign them.
LANG_CODES: dict[str, str] = {
    "a": "en-us",
    "b": "en-gb",
    "e": "es",
    "f": "fr-fr",
    "h": "hi",
    "i": "it",
    "p": "pt-br",
    "j": "ja",
    "z": "cmn",
}

#: misaki `EspeakFallback.E2M` (English), applied longest key first.
ENGLISH_E2M: dict[str, str] = {
    "ʔˌn\u0329": "ʔn",
    "ʔn\u0329": "ʔn",
    "a^ɪ": "I",
    "a^ʊ": "W",
    "d^ʒ": "ʤ",
    "e^ɪ": "A",
    "e": "A",
    "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y",
    "ə^l": "ᵊl",
    "ʲo": "jo",
    "ʲə": "jə",
    "ʲ": "",
    "ɚ": "əɹ",
    "r": "ɹ",
    "x": "k",
    "ç": "k",
    "ɐ": "ə",
    "ɬ": "l",
    "\u0303": "",
}
#: American rules, applied in order after ENGLISH_E2M.
US_RULES: tuple[tuple[str, str], ...] = (
    ("o^ʊ", "O"),
    ("ɜːɹ", "ɜɹ"),
    ("ɜː", "ɜɹ"),
    ("ɪə", "iə"),
    ("ː", ""),
)
#: British rules, applied in order after ENGLISH_E2M (`e^ə` runs before it, see module doc).
GB_RULES: tuple[tuple[str, str], ...] = (
    ("i^ə", "ɪə"),  # misaki lists only "iə"; espeak 1.52 ties it, so the tied form is added
    ("iə", "ɪə"),
    ("ə^ʊ", "Q"),
)
#: v1.0 (not misaki "2.0") English: flap as the capital T symbol, glottal stop as t.
V1_ENGLISH_RULES: tuple[tuple[str, str], ...] = (("ɾ", "T"), ("ʔ", "t"))

#: misaki `EspeakG2P` digraphs for non-English languages (v1.0).
GENERIC_E2M: dict[str, str] = {
    "a^ɪ": "I",
    "a^ʊ": "W",
    "d^z": "ʣ",
    "d^ʒ": "ʤ",
    "e^ɪ": "A",
    "o^ʊ": "O",
    "ə^ʊ": "Q",
    "s^s": "S",
    "t^s": "ʦ",
    "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y",
}

#: hexgrad v0.19 `kokoro.py` word fixes on raw espeak output (tie form), English only.
ENGLISH_WORD_FIXES: tuple[tuple[str, str], ...] = (
    ("kəkˈoːɹo^ʊ", "kˈo^ʊkəɹo^ʊ"),  # https://en.wiktionary.org/wiki/kokoro#English
    ("kəkˈɔːɹo^ʊ", "kˈo^ʊkəɹo^ʊ"),  # espeak 1.52 en-us spelling of the same word
    ("kəkˈɔːɹə^ʊ", "kˈə^ʊkəɹə^ʊ"),
)
_HUNDRED = re.compile(r"(?<=[a-zɹː])(?=hˈʌndɹɪd)")
_DETACHED_Z = re.compile(r' z(?=[;:,.!?¡¿—…"«»“” ]|$)')
_SYLLABIC = re.compile(r"(\S)\u0329")
_INTRA_WORD_DOT = re.compile(r"(?<=\S)\.(?=[^\s.])")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
#: phonemizer's default punctuation marks (kept as they are by preserve_punctuation) + whitespace.
_ESPEAK_PUNCTUATION = ';:,.!?¡¿—…"«»“”(){}[] '


def _by_length(table: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(table.items(), key=lambda kv: -len(kv[0])))


def _replace_all(ps: str, rules: Sequence[tuple[str, str]]) -> str:
    for old, new in rules:
        ps = ps.replace(old, new)
    return ps


def is_english(lang: str) -> bool:
    return lang == "en" or lang.startswith("en-")


def normalize_english(raw: str, british: bool) -> str:
    """Raw espeak-ng IPA (tie "^") of English -> Kokoro symbols (see module doc for the table)."""
    ps = _replace_all(raw, ENGLISH_WORD_FIXES)
    ps = _HUNDRED.sub(" ", ps)
    ps = _DETACHED_Z.sub("z", ps)
    if british:
        ps = ps.replace("e^ə", "ɛː")
    ps = _replace_all(ps, _by_length(ENGLISH_E2M))
    ps = _SYLLABIC.sub(r"ᵊ\1", ps).replace("\u0329", "")
    ps = _replace_all(ps, GB_RULES if british else US_RULES)
    ps = ps.replace("o", "ɔ")  # espeak < 1.52 wrote o for ɔ
    ps = _replace_all(ps, V1_ENGLISH_RULES)
    return ps.replace("^", "")


def normalize_generic(raw: str, lang: str) -> str:
    """Raw espeak-ng IPA (tie "^") of a non-English language -> Kokoro symbols."""
    ps = _replace_all(raw, sorted(GENERIC_E2M.items()))
    ps = ps.replace("^", "").replace("-", "")
    if lang == "cmn":
        ps = _INTRA_WORD_DOT.sub("", ps)  # espeak's retroflex/apical markers, not full stops
    return ps


def fold_to_vocab(ps: str) -> str:
    """Decompose precomposed letters that are not Kokoro symbols (e.g. Japanese `ä` -> `a` + U+0308)
    so their base letter survives the vocabulary filter; symbols of the vocabulary stay whole
    (`ç` is one)."""
    if all(p in VOCAB or p == "^" for p in ps):
        return ps
    return "".join(
        p if p in VOCAB or len(d := unicodedata.normalize("NFD", p)) == 1 else d for p in ps
    )


def normalize(raw: str, lang: str) -> str:
    """Raw espeak-ng output (tie "^") in `lang` -> phoneme string of vocabulary symbols only."""
    raw = fold_to_vocab(raw)
    if is_english(lang):
        ps = normalize_english(raw, british=lang != "en-us")
    else:
        ps = normalize_generic(raw, lang)
    ps = ps.replace("«", "(").replace("»", ")")  # parentheses were hidden as angles, see G2P
    kept = filter_vocab(ps)
    if len(kept) != len(ps):
        log.debug("G2P dropped %r (not Kokoro symbols)", sorted(set(ps) - set(VOCAB)))
    return " ".join(kept.split())


def lang_for_voice(name: str, lang: str | None = None) -> str:
    """Voice name (e.g. "af_bella") -> espeak language ("en-us"); an explicit `lang` wins.

    The first letter of the name picks the language (see LANG_CODES). The embedded voices start
    with "j" but this project speaks English with them by default: callers pass lang="en-us".
    """
    if lang is not None:
        lang = lang.strip().lower()
        if not lang:
            raise UserValueError("lang is empty: pass an espeak language such as 'en-us', or None")
        return lang
    letter = name.strip()[:1].lower()
    if letter not in LANG_CODES:
        valid = ", ".join(f"{k}={v}" for k, v in LANG_CODES.items())
        raise UserValueError(
            f"voice {name!r} starts with {letter!r}, which names no espeak language "
            f"(valid first letters: {valid}); pass lang= explicitly, e.g. lang='en-us'"
        )
    return LANG_CODES[letter]


def _prepare_text(text: str) -> str:
    """One line of text for espeak: whitespace collapsed, parentheses hidden as angle quotes.

    phonemizer's `language_switch="remove-flags"` deletes "(...)" groups it takes for language
    flags, so parentheses travel as « » (and real « » as curly quotes), as misaki does.
    """
    text = text.replace("‘", "'").replace("’", "'")
    text = text.replace("«", "“").replace("»", "”").replace("(", "«").replace(")", "»")
    text = _DIGIT_COMMA.sub("", text)  # "1,000" is one number, not "one, zero zero zero"
    return " ".join(text.split())


def _configure_espeak() -> None:
    """Point phonemizer at espeakng-loader's library *and* data (without the data path,
    libespeak-ng exits the whole process when it cannot find its voices)."""
    import espeakng_loader
    from phonemizer.backend.espeak.wrapper import EspeakWrapper

    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())


def espeak_backend(lang: str, **settings):
    """phonemizer's EspeakBackend for `lang` with punctuation kept and stress marks, plus
    `settings`; a language espeak-ng lacks is a user error naming the valid ones."""
    _configure_espeak()
    from phonemizer.backend import EspeakBackend

    try:
        backend = EspeakBackend(
            language=lang,
            preserve_punctuation=True,
            with_stress=True,
            logger=_DebugLogger(logging.getLogger(f"{__name__}.espeak"), {}),
            **settings,
        )
    except RuntimeError as err:
        valid = ", ".join(sorted(set(LANG_CODES.values())))
        raise UserValueError(
            f"espeak-ng does not support language {lang!r}: use one of {valid} "
            "(or another code from EspeakBackend.supported_languages())"
        ) from err
    log.debug("started espeak-ng backend for %s %s", lang, settings)
    return backend


class _DebugLogger(logging.LoggerAdapter):
    """phonemizer reports routine events (word-count mismatches, removed language flags) as
    warnings; they are expected here, so they are passed on at DEBUG level."""

    def log(self, level, msg, *args, **kwargs):
        super().log(min(level, logging.DEBUG), msg, *args, **kwargs)


class G2P(PhonemizerBase):
    """Text -> Kokoro phonemes in one espeak language; the backend starts on first use.

    Settings follow hexgrad's pipelines: `preserve_punctuation=True, with_stress=True`, plus
    `tie="^"` and `language_switch="remove-flags"` as misaki's espeak G2P uses them.
    """

    def __init__(self, lang: str):
        self.lang = lang_for_voice("", lang)
        self._backend = None

    def __repr__(self) -> str:
        return f"G2P(lang={self.lang!r})"

    @property
    def backend(self):
        if self._backend is None:
            self._backend = espeak_backend(
                self.lang,
                tie="^",
                language_switch="remove-flags",
                words_mismatch="ignore",
            )
        return self._backend

    def phonemize_batch(self, texts: Sequence[str]) -> list[str]:
        """Texts (n) -> phoneme strings (n) in one espeak call; may return "" or punctuation-only
        strings (no check), which is what chunking wants.

        Punctuation-only texts skip espeak: phonemizer merges consecutive ones into one output
        line, which would misalign the batch.
        """
        lines = [_prepare_text(t) for t in texts]
        todo = [i for i, line in enumerate(lines) if line.strip(_ESPEAK_PUNCTUATION)]
        out = [
            line if line.strip(_ESPEAK_PUNCTUATION) else normalize(line, self.lang)
            for line in lines
        ]
        if todo:
            raw = self.backend.phonemize([lines[i] for i in todo])
            if len(raw) != len(todo):  # misaligned despite the above: go line by line
                raw = [(self.backend.phonemize([lines[i]]) or [""])[0] for i in todo]
            for i, r in zip(todo, raw, strict=True):
                out[i] = normalize(r, self.lang)
        return out


@functools.cache
def _cached_g2p(lang: str) -> G2P:
    return G2P(lang)


def get_g2p(lang: str) -> G2P:
    """One cached G2P per language (created on first request, never at import)."""
    return _cached_g2p(lang_for_voice("", lang))


def phonemize(text: str, lang: str) -> str:
    """Text -> Kokoro phoneme string in espeak language `lang` (e.g. "en-us")."""
    return get_g2p(lang)(text)
