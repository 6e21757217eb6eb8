"""Mandarin G2P as the official pipeline runs it for Kokoro-82M, offline: text -> Kokoro phonemes.

Axes: t phoneme symbols (one character each, all in `kokoro_lab.text.vocab.VOCAB`).

hexgrad's `KPipeline('z', repo_id='hexgrad/Kokoro-82M')` (kokoro 0.9.4) builds
`misaki.zh.ZHG2P(version=None, en_callable=None)`: misaki's legacy path, the one Kokoro-82M v1.0
was trained with (the PaddleSpeech-style frontend with tone sandhi, `version='1.1'`, belongs to
Kokoro-82M-v1.1-zh). It runs, in order: `cn2an.transform(text, 'an2cn')` (digits to Chinese
numerals: 2024年 -> 二零二四年, 100 -> 一百, 50% -> 百分之五十), Chinese punctuation to ASCII,
`jieba` word segmentation of each run of Han characters, `pypinyin` readings (TONE3) and a
pinyin -> IPA table, whose tone letters become the arrows → ↗ ↓ ↘ of the Kokoro vocabulary.
Words are separated by spaces; neutral-tone syllables carry no arrow. We run that same object of
`misaki==0.9.4`; nothing is reimplemented.

Offline by construction: jieba's dictionary and pypinyin's readings ship inside their wheels.
On first use jieba builds its prefix dictionary (about 0.7 s), writes it to
`$TMPDIR/jieba.cache` for the next process, and says so on stderr through its own logger.

misaki can emit symbols outside the Kokoro vocabulary: text outside the Han block passes through
as it is ("Hello" stays `Hello`, of which `H` is no Kokoro symbol; `¥` stays). The official
`KModel.forward` drops such symbols silently, so we filter them with `filter_vocab`: what we
return is what the official model reads.

Nothing happens at import: misaki, jieba and pypinyin load on first use (1.1-1.4 s on a CPU,
half of it jieba's dictionary); then a sentence takes about 1 ms.
"""

from __future__ import annotations

import logging

from kokoro_lab.text.protocol import MisakiLineG2P

log = logging.getLogger(__name__)

#: The packages this front end needs (exact pins; `misaki` itself is installed with --no-deps).
REQUIREMENTS = (
    "misaki==0.9.4",
    "jieba==0.42.1",
    "pypinyin==0.55.0",
    "cn2an==0.5.24",
    "proces==0.1.7",
    "ordered-set==4.1.0",
)

#: KPipeline splits its input at newlines before G2P; so do we.


def _load_zhg2p():
    """misaki's ZHG2P exactly as `KPipeline('z', repo_id='hexgrad/Kokoro-82M')` builds it."""
    try:
        from misaki import zh
    except ImportError as err:
        raise ImportError(
            f"Mandarin G2P needs misaki's Chinese extras ({err.name} is missing): install "
            f"{' '.join(REQUIREMENTS)} (misaki with --no-deps)"
        ) from err
    return zh.ZHG2P(version=None, en_callable=None)


class MandarinG2P(MisakiLineG2P):
    """Mandarin text -> Kokoro phonemes, equal to `KPipeline('z')`'s (Kokoro-82M) for a one-chunk
    text. The misaki object is created on first use and kept by this instance."""

    lang = "zh"

    def __repr__(self) -> str:
        return "MandarinG2P()"

    def _load(self):
        """The `misaki.zh.ZHG2P` (legacy v1.0 path), made on first use."""
        return _load_zhg2p()
