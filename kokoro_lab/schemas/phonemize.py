"""`configs/phonemize.yaml`'s schema: the keys of `scripts/phonemize.py`.

    python scripts/phonemize.py text_file=FILE [lang=en-us] [g2p=misaki] [output=OUT.txt]

Prints (or writes) one line per non-empty input line: the phonemes scripts/infer.py would speak
with the same keys (that line's chunks joined by one space). No model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from kokoro_lab.schemas.voice import VoiceConfig


@dataclass
class PhonemizeConfig:
    text: str | None = None  # free text (anything a shell passes; text=- reads standard input)
    text_file: str | None = None  # a UTF-8 file, one utterance per line
    output: str | None = None  # also write the phoneme lines here (atomically)
    lang: str | None = None  # as in infer: default the voice's
    g2p: str | None = None  # misaki | espeak | espeak-ipa; default: the voice's
    lexicon: str | None = None  # a UTF-8 file of word<TAB>phonemes lines overriding words
    # as in infer: how +voice=NAME, voice_path= and voice_mix= resolve
    voice: VoiceConfig | None = None
    voices_dir: str | None = None
    voice_path: str | None = None
    voice_mix: str | None = None
