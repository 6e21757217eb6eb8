"""Raw espeak IPA front end (kokoro-onnx's, and the v0.19 seed's) on the real espeak-ng."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.text.espeak_ipa import EspeakIPAG2P, normalize_text_v019
from kokoro_lab.text.g2p import _configure_espeak
from kokoro_lab.text.vocab import VOCAB

#: Texts beyond the Harvard sentences that exercise phonemizer's line and punctuation handling.
TRICKY = [
    "Hello (world) «x»",
    "Line one.\nLine two!\n\n  Line three?",
    "It costs $5.50, or 1,000 dollars at 3:05.",
    '"Quoted," she said... then left!',
    "Wait — what?!",
    "Kokoro 1990s ninety",
]


def kokoro_onnx_phonemes(text: str, lang: str) -> str:
    """kokoro-onnx 0.6.1 written out independently: `Tokenizer.phonemize` (strip the text,
    `phonemizer.phonemize` with punctuation and stress, keep vocabulary symbols, strip), then the
    whitespace collapse of `Kokoro._prepare`."""
    import phonemizer

    _configure_espeak()
    raw = phonemizer.phonemize(text.strip(), lang, preserve_punctuation=True, with_stress=True)
    kept = "".join(p for p in raw if p in VOCAB).strip()
    return " ".join(kept.split())


@pytest.fixture(scope="module")
def us():
    return EspeakIPAG2P("en-us")


@pytest.fixture(scope="module")
def seed_us():
    return EspeakIPAG2P("en-us", seed_fixes=True)


@pytest.fixture(scope="module")
def seed_gb():
    return EspeakIPAG2P("en-gb", seed_fixes=True)


# kokoro-onnx ------------------------------------------------------------------------------------


def test_known_outputs(us):
    assert us("The birch canoe slid on the smooth planks.") == (
        "ðə bˈɜːtʃ kənˈuː slˈɪd ɔnðə smˈuːð plˈæŋks."
    )
    assert us("It's easy to tell the depth of a well.") == "ɪts ˈiːzi tə tˈɛl ðə dˈɛpθ əvə wˈɛl."
    gb = EspeakIPAG2P("en-gb")
    assert gb("Glue the sheet to the dark blue background.") == (
        "ɡlˈuː ðə ʃˈiːt tə ðə dˈɑːk blˈuː bˈakɡɹaʊnd."
    )
    # no normalization and no fixes: espeak's own number reading, "Kokoro" as espeak says it
    assert us("Kokoro, the 1990s.") == "kəkˈɔːɹoʊ, ðə nˈaɪntiːnhˈʌndɹɪd nˈaɪnti z."
    assert us("Hello\n\nworld!") == "həlˈoʊ wˈɜːld!"  # lines run together, one space
    fr = EspeakIPAG2P("fr-fr")
    assert fr("Bonjour le monde.") == "bɔ̃ʒˈuʁ lə mˈɔ̃d."
    # espeak's language-switch flags are kept, as kokoro-onnx keeps them
    assert fr("Ce weekend.") == "sə (en)wiːkˈɛnd(fr)."
    assert fr("Ce weekend.") == kokoro_onnx_phonemes("Ce weekend.", "fr-fr")


@pytest.mark.parametrize("lang", ["en-us", "en-gb"])
def test_equals_kokoro_onnx_algorithm_on_harvard(lang):
    texts = harvard_sentences(20) + TRICKY
    ours = EspeakIPAG2P(lang).phonemize_batch(texts)
    assert ours == [kokoro_onnx_phonemes(t, lang) for t in texts]


def test_batch_equals_one_by_one(us, seed_us):
    texts = [*harvard_sentences(6), *TRICKY, "", "...", "!?", "Yes.\n...\nNo."]
    for g2p in (us, seed_us):
        assert g2p.phonemize_batch(texts) == [g2p.phonemize_batch([t])[0] for t in texts]


def test_output_is_vocabulary_only(us):
    ps = "".join(us.phonemize_batch(TRICKY + ["Bach sang in Llanelli."]))
    assert set(ps) <= set(VOCAB)


def test_empty_and_unspeakable_raise(us, seed_us):
    for g2p in (us, seed_us):
        with pytest.raises(ValueError, match="empty"):
            g2p("")
        with pytest.raises(ValueError, match="empty"):
            g2p("  \n ")
        with pytest.raises(ValueError, match="no speakable symbol"):
            g2p("...")
        assert g2p.phonemize_batch(["", "..."]) == ["", "..."]  # no checks in the batch call


def test_seed_fixes_are_english_only():
    with pytest.raises(ValueError, match="English only"):
        EspeakIPAG2P("fr-fr", seed_fixes=True)
    with pytest.raises(ValueError, match="lang is empty"):
        EspeakIPAG2P(" ")


def test_backend_starts_on_first_use():
    g2p = EspeakIPAG2P("en-us")
    assert g2p._backend is None and "en-us" in repr(g2p)
    g2p("Yes.")
    assert g2p._backend is not None
    code = "import kokoro_lab.text.espeak_ipa, sys; print('phonemizer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# v0.19 seed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith met Mr. Jones and Ms. Lee, Mrs. Day etc. yeah",
            "Doctor Smith met Mister Jones and Miss Lee, Mrs Day etc ye'a",
        ),
        ("“Quoted” ‘single’ (aside)", "\"Quoted\" 'single' «aside»"),
        ("It is 3:00, 3:05 or 3:45.", "It is 3 o'clock, 3 oh 5 or 3 45."),
        (
            "The 1990s, 1905, 1900, 2005, 2050 and 1066.",
            "The 19 90s, 19 oh 5, 19 hundred, 2005, 20 50 and 1066.",
        ),
        (
            "It costs $5.50, $1, £1.01, £3.5 or $5 million.",
            "It costs 5 dollars and 50 cents, 1 dollar, 1 pound and 1 penny, 3 pounds and 50 "
            "pence or 5 million dollars.",
        ),
        ("Pi is 3.14 and 1,000,000 is big.", "Pi is 3 point 1 4 and 1000000 is big."),
        (
            "Pages 5-10 of the CDs by U.S.A. authors.",
            "Pages 5 to 10 of the CD'S by U-S-A- authors.",
        ),
        ("句子、和。", "句子, 和."),
    ],
)
def test_seed_normalize_text(text, expected):
    assert normalize_text_v019(text) == expected


def test_seed_numbers_and_money(seed_us):
    assert seed_us("It costs $5.50.") == "ɪt kˈɔsts fˈaɪv dˈɑːlɚz ænd fˈɪfti sˈɛnts."
    assert seed_us("At 3:05.") == "æt θɹˈiː ˈoʊ fˈaɪv."
    # espeak glues "threehundred"; the seed puts the space back
    assert seed_us("He paid $300.") == "hiː pˈeɪd θɹˈiː hˈʌndɹɪd dˈɑːlɚz."
    assert "θɹˈiːhˈʌndɹɪd" in EspeakIPAG2P("en-us")("He paid $300.")


def test_seed_kokoro(seed_us, seed_gb, us):
    assert seed_us("Kokoro") == "kˈoʊkəɹoʊ"
    assert seed_gb("Kokoro") == "kˈəʊkəɹəʊ"
    assert us("Kokoro") == "kəkˈɔːɹoʊ"  # espeak-ng 1.52 en-us, unfixed


def test_seed_1990s_and_ninety(seed_us, seed_gb, us):
    # "19 90s" -> espeak "nˈaɪnti z": the plural is attached, then en-us flaps the t
    assert seed_us("The 1990s.") == "ðə nˈaɪntiːn nˈaɪndiz."
    assert seed_gb("The 1990s.") == "ðə nˈaɪntiːn nˈaɪntiz."
    assert seed_us("ninety nineteen") == "nˈaɪndi nˈaɪntiːn"  # the long tiː of -teen stays
    assert seed_gb("ninety") == "nˈaɪnti"
    assert us("ninety") == "nˈaɪnti"


def test_seed_symbol_fixes(seed_us, us):
    # espeak writes x (loch) and ɬ (Llanelli), not v0.19 symbols: the seed maps them to k and l
    assert seed_us("loch Llanelli") == "lˈɑːk lænˈɛli"
    assert us("loch Llanelli") == "lˈɑːx ænˈɛli"  # x is in the v1.0 vocabulary, ɬ is not
