"""Japanese G2P as the official pipeline runs it, offline: text -> Kokoro phonemes.

Axes: t phoneme symbols (one character each, all in `kokoro_lab.text.vocab.VOCAB`).

hexgrad's `KPipeline('j')` (kokoro 0.9.4) calls `misaki.ja.JAG2P()` with its defaults, which is
misaki's `cutlet` romanizer, not its pyopenjtalk path: MeCab (through `fugashi`) splits the text
and reads each word with UniDic, numbers are spelled out in kana first (`misaki.num2kana`), and
the kana become Kokoro's Japanese symbols (`ʦ ʨ ʥ ɕ ɯ ɨ ɴ ʔ ː`, palatal `ʲ`, `β` for the
particle は). We run that same object of `misaki==0.9.4`; nothing is reimplemented.

Offline by construction. fugashi's `Tagger()` opens the first pip-installed dictionary it finds,
trying the full `unidic` package before `unidic-lite`. This project installs only
`unidic-lite==1.0.8` (UniDic 2.1.2 inside the wheel, about 250 MB installed); the full `unidic`
package needs its dictionary downloaded (`python -m unidic download`) and must not be installed.
`misaki.ja` also imports `pyopenjtalk` at import time (for its unused pyopenjtalk path);
`pyopenjtalk-plus` provides that module with its dictionary bundled, where plain `pyopenjtalk`
would download one. `JapaneseG2P.dictionary` says which dictionary was opened.

misaki can emit symbols outside the Kokoro vocabulary: ASCII words pass through as they are
("ABC" -> `ABC`, of which `B` and `C` are no Kokoro symbols), parentheses come out as « », and
unmapped signs such as `⁄` stay. The official `KModel.forward` drops such symbols silently, so we
filter them with `filter_vocab`: what we return is what the official model reads.

Nothing happens at import: misaki, fugashi and the dictionary load on first use (about 0.5 s
on a CPU, most of it importing misaki.ja); then a sentence takes about 0.3 ms.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kokoro_lab.text.protocol import MisakiLineG2P

log = logging.getLogger(__name__)

#: The packages this front end needs (exact pins; `misaki` itself is installed with --no-deps).
REQUIREMENTS = (
    "misaki==0.9.4",
    "fugashi==1.5.2",
    "unidic-lite==1.0.8",
    "jaconv==0.5.0",
    "mojimoji==0.0.13",
    "pyopenjtalk-plus==0.4.1.post10",
)

#: KPipeline splits its input at newlines before G2P; so do we.


def _load_jag2p():
    """misaki's JAG2P exactly as `KPipeline('j')` builds it, with a fix-it message on failure."""
    try:
        from misaki import ja
    except ImportError as err:
        raise ImportError(
            f"Japanese G2P needs misaki's Japanese extras ({err.name} is missing): install "
            f"{' '.join(REQUIREMENTS)} (misaki with --no-deps)"
        ) from err
    try:
        return ja.JAG2P()
    except RuntimeError as err:  # MeCab could not open the dictionary fugashi chose
        raise RuntimeError(
            "MeCab could not open a UniDic dictionary for misaki's Japanese G2P; if the full "
            "'unidic' package is installed without its downloaded dictionary, uninstall it so "
            "fugashi uses unidic-lite==1.0.8"
        ) from err


class JapaneseG2P(MisakiLineG2P):
    """Japanese text -> Kokoro phonemes, equal to `KPipeline('j')`'s for a one-chunk text.

    The misaki object is created on first use and kept by this instance.
    """

    lang = "ja"

    def __repr__(self) -> str:
        return "JapaneseG2P()"

    def _load(self):
        """The `misaki.ja.JAG2P` (cutlet romanizer on fugashi + unidic-lite), made on first use."""
        return _load_jag2p()

    @property
    def dictionary(self) -> Path:
        """Path of the MeCab system dictionary (`sys.dic`) that misaki's tagger opened."""
        info = self.backend.cutlet.tagger.dictionary_info
        return Path(info[0]["filename"])
