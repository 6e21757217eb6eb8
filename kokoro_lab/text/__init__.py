"""Text front end: phoneme vocabulary, espeak-ng G2P and chunking to the 510-symbol context.

Nothing here starts espeak at import; `G2P(lang)` starts its backend on first use.
"""

from kokoro_lab.text.chunking import Chunk, chunk_phonemes, chunk_text, iter_chunks
from kokoro_lab.text.g2p import G2P, LANG_CODES, get_g2p, lang_for_voice, phonemize
from kokoro_lab.text.vocab import (
    PAD_ID,
    VOCAB,
    add_boundary_pads,
    decode,
    encode,
    is_speakable,
    model_input_ids,
)

__all__ = [
    "G2P",
    "LANG_CODES",
    "PAD_ID",
    "VOCAB",
    "Chunk",
    "add_boundary_pads",
    "chunk_phonemes",
    "chunk_text",
    "decode",
    "encode",
    "get_g2p",
    "is_speakable",
    "iter_chunks",
    "lang_for_voice",
    "model_input_ids",
    "phonemize",
]
