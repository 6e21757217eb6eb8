"""The text front end: language x G2P mode -> phonemes in chunks the model can speak.

Axes: t phoneme symbols.

Languages take the official one-letter codes (`a` en-us, `b` en-gb, `e` es, `f` fr-fr, `h` hi,
`i` it, `p` pt-br, `j` ja, `z` zh) or espeak names (`en-us`, `fr-fr`, ...; `cmn` is `zh`).

G2P modes (`g2p=`), per language, following hexgrad's `KPipeline` for Kokoro v1.0:

| mode | English (en-us, en-gb) | ja, zh | other languages |
| --- | --- | --- | --- |
| `misaki` | misaki English (official) | misaki ja, zh (official) | espeak+misaki rules (official) |
| `espeak` | our espeak-to-misaki mapping | espeak (approximate) | espeak+misaki rules |
| `espeak-ipa` | raw espeak IPA (kokoro-onnx) | raw espeak IPA | raw espeak IPA |

With no mode given, `misaki` runs, except for v0.19 voicepacks speaking English (the seed's own
front end: `espeak-ipa` with the v0.19 `kokoro.py` text normalization and replacements) and for
voices whose catalogue entry names an `english_g2p` (the embedded voices: whichever front end
measured most intelligible for them, docs/frontend_intelligibility.md).

A user lexicon (`lexicon=FILE`, see `kokoro_lab.text.lexicon`) and misaki's inline markup
`[word](/phonemes/)` work in every mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.errors import UserValueError
from kokoro_lab.text.chunking import (
    Chunk,
    iter_chunks,
    iter_grapheme_chunks,
    iter_token_chunks,
)
from kokoro_lab.text.g2p import LANG_CODES

G2P_MODES = ("misaki", "espeak", "espeak-ipa")

#: KPipeline's one-letter language codes -> our language names (espeak's, but `zh` for Mandarin,
#: which misaki speaks; espeak calls it `cmn`).
LANGUAGE_CODES: dict[str, str] = {**LANG_CODES, "z": "zh"}
_ALIASES = {"cmn": "zh", "zh-cn": "zh", "en": "en-us", "jp": "ja"}
#: Our language name -> espeak-ng's, where they differ.
_ESPEAK_NAMES = {"zh": "cmn"}
#: The language of a run (or request) that names none and whose voice names none.
DEFAULT_LANG = "en-us"


def resolve_lang(lang: str) -> str:
    """A one-letter code or espeak name -> our language name ("a" -> "en-us", "cmn" -> "zh")."""
    code = str(lang).strip().lower()
    if not code:
        raise UserValueError(
            "lang is empty: pass a language code (a b e f h i j p z) or an espeak name (en-us, ...)"
        )
    return LANGUAGE_CODES.get(code, _ALIASES.get(code, code))


def is_english(lang: str) -> bool:
    return lang == "en" or lang.startswith("en-")


def check_mode(mode: str) -> str:
    if mode not in G2P_MODES:
        raise UserValueError(f"g2p={mode!r} is not a G2P mode: use one of {', '.join(G2P_MODES)}")
    return mode


def default_mode(lang: str, voice_release: str | None = None, english_g2p: str | None = None):
    """The mode a voice speaks `lang` with when none is asked for (see module doc)."""
    if is_english(lang):
        if voice_release == "v0.19":
            return "espeak-ipa"
        return check_mode(english_g2p) if english_g2p else "misaki"
    return "misaki"


def make_g2p(lang: str, mode: str, lexicon: Mapping[str, str] | None = None, seed: bool = False):
    """A G2P object for `lang` in `mode` (lexicon and markup applied); `seed` selects the v0.19
    replacements for English `espeak-ipa`. Nothing starts until the object is first used."""
    from kokoro_lab.text.lexicon import LexiconG2P

    lang, mode = resolve_lang(lang), check_mode(mode)
    espeak_lang = _ESPEAK_NAMES.get(lang, lang)
    if mode == "misaki" and is_english(lang):
        from kokoro_lab.text.misaki_en import MisakiEnglishG2P

        return MisakiEnglishG2P(lang, lexicon)  # misaki reads the markup itself
    if mode == "misaki" and lang == "ja":
        from kokoro_lab.text.japanese import JapaneseG2P

        inner = JapaneseG2P()
    elif mode == "misaki" and lang == "zh":
        from kokoro_lab.text.mandarin import MandarinG2P

        inner = MandarinG2P()
    elif mode == "espeak-ipa":
        from kokoro_lab.text.espeak_ipa import EspeakIPAG2P

        inner = EspeakIPAG2P(espeak_lang, seed_fixes=seed and is_english(lang))
    else:
        from kokoro_lab.text.g2p import G2P

        inner = G2P(espeak_lang)
    return LexiconG2P(inner, lexicon)


@dataclass
class FrontEnd:
    """Text -> Chunks for one language and G2P mode (see module doc); `g2p` is the G2P object."""

    lang: str
    mode: str
    lexicon: Mapping[str, str] | None = None
    seed: bool = False
    g2p: object = field(init=False)

    def __post_init__(self):
        self.lang = resolve_lang(self.lang)
        self.g2p = make_g2p(self.lang, self.mode, self.lexicon, self.seed)

    @property
    def official_chunking(self) -> bool:
        """True when chunks are cut as KPipeline cuts them: from misaki's tokens (English) or
        from sentences of at most 400 characters (other languages); in the espeak modes, our
        own sentence/clause chunker runs."""
        return self.mode == "misaki"

    def chunks(
        self, text: str, first_alone: bool = False, max_len: int = CONTEXT_LENGTH
    ) -> Iterator[Chunk]:
        """Text -> speakable Chunks of <= max_len symbols; `first_alone` ends the first chunk
        after the first sentence (streaming)."""
        if self.official_chunking and hasattr(self.g2p, "tokens"):
            return iter_token_chunks(text, self.g2p, max_len, first_alone)
        if self.official_chunking:
            return iter_grapheme_chunks(text, self.g2p, max_len, first_alone)
        return iter_chunks(text, self.g2p, max_len=max_len, first_alone=first_alone)

    def phonemize(self, text: str) -> str:
        """The phonemes of all chunks of `text`, joined by one space (what the model speaks)."""
        return " ".join(c.phonemes for c in self.chunks(text))


def make_frontend(
    lang: str,
    mode: str | None = None,
    lexicon: Mapping[str, str] | None = None,
    voice_release: str | None = None,
    english_g2p: str | None = None,
    frontend_class: type[FrontEnd] | None = None,
) -> FrontEnd:
    """The front end a voice uses for `lang`: `mode` if given, else `default_mode`;
    `frontend_class` a FrontEnd subclass to build (the server's serialized one)."""
    lang = resolve_lang(lang)
    chosen = check_mode(mode) if mode else default_mode(lang, voice_release, english_g2p)
    seed = not mode and voice_release == "v0.19"
    return (frontend_class or FrontEnd)(lang, chosen, lexicon, seed)
