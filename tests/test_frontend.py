"""The text front end against hexgrad's KPipeline (kokoro==0.9.4, misaki==0.9.4), offline.

The reference is configured, not mocked: `KPipeline` builds misaki's `en.G2P`, whose constructor
would download `en_core_web_sm`; `reference_pipeline` points that name at the same installed
spaCy pipeline (the PyPI re-upload) for the duration of the construction. Everything it then
computes is misaki's and KPipeline's own code.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import pytest
from reference_kokoro import import_official

from kokoro_lab.evaluation.texts import harvard_sentences, numbers_dates_sentences
from kokoro_lab.text.chunking import Word, token_chunks
from kokoro_lab.text.frontend import make_frontend, resolve_lang
from kokoro_lab.text.lexicon import grow_case, load_lexicon
from kokoro_lab.text.misaki_en import spacy_model_dir

LINES = harvard_sentences() + numbers_dates_sentences()


@contextlib.contextmanager
def _spacy_name_shim():
    """While KPipeline is built: `en_core_web_sm` resolves to the installed re-upload."""
    import spacy

    real_load = spacy.load
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(spacy.util, "is_package", lambda name: name == "en_core_web_sm")
        mp.setattr(
            spacy,
            "load",
            lambda name, **kw: real_load(
                spacy_model_dir() if name == "en_core_web_sm" else name, **kw
            ),
        )
        yield


def reference_pipeline(lang_code: str):
    KPipeline = import_official("pipeline").KPipeline  # whichever way kokoro was imported first

    with _spacy_name_shim():
        return KPipeline(lang_code=lang_code, repo_id="hexgrad/Kokoro-82M", model=False)


@pytest.fixture(scope="module", params=["a", "b"])
def pair(request):
    return make_frontend(request.param, "misaki"), reference_pipeline(request.param)


def test_phonemes_equal_kpipeline_on_harvard_and_numbers(pair):
    """All 360 Harvard sentences and the 40 number/date/heteronym lines, en-us and en-gb: every
    line's chunks joined by one space equal KPipeline's (the requirement is >= 99 %)."""
    ours, ref = pair
    diffs = []
    for line in LINES:
        mine = ours.phonemize(line)
        theirs = " ".join(r.phonemes for r in ref(line) if r.phonemes)
        if mine != theirs:
            diffs.append((line, mine, theirs))
    for line, mine, theirs in diffs:
        print(f"\n{ours.lang}: {line}\n  ours   {mine}\n  theirs {theirs}")
    assert len(diffs) <= 0.01 * len(LINES), diffs


def test_long_text_chunks_equal_kpipeline(pair):
    """A text too long for one chunk, with newlines: the same chunks, text and phonemes."""
    ours, ref = pair
    text = " ".join(harvard_sentences(40)) + "\n" + " ".join(harvard_sentences(12, start=100))
    mine = [(c.text, c.phonemes) for c in ours.chunks(text)]
    theirs = [(r.graphemes, r.phonemes) for r in ref(text) if r.phonemes]
    assert len(mine) >= 3
    assert mine == theirs
    assert all(len(ps) <= 510 for _, ps in mine)


def test_misaki_reads_numbers_money_and_the_article():
    fe = make_frontend("en-us")
    assert fe.mode == "misaki"
    ps = fe.phonemize("It costs $3.50.")
    assert "dˈɑləɹz" in ps and "sˈɛnts" in ps  # three dollars and fifty cents
    assert " ɐ " in fe.phonemize("Those were a strong statement.")  # misaki's article "a"


def test_first_sentence_alone_splits_only_the_first_sentence():
    fe = make_frontend("en-us")
    chunks = list(fe.chunks("Hello there. How are you? Fine.", first_alone=True))
    assert [c.text for c in chunks] == ["Hello there.", "How are you? Fine."]
    assert " ".join(c.phonemes for c in chunks) == fe.phonemize("Hello there. How are you? Fine.")


def test_token_chunks_never_exceed_the_context():
    words = [Word("x", "ab" * 30, True) for _ in range(40)] + [Word("y", "c" * 600, False)]
    chunks = list(token_chunks(words, max_len=510))
    assert all(len(c.phonemes) <= 510 for c in chunks)
    assert "".join(c.phonemes.replace(" ", "") for c in chunks) == "ab" * 1200 + "c" * 600


def test_languages_take_official_codes_and_espeak_names():
    assert [resolve_lang(c) for c in "abefhipjz"] == [
        "en-us", "en-gb", "es", "fr-fr", "hi", "it", "pt-br", "ja", "zh",
    ]  # fmt: skip
    assert resolve_lang("cmn") == "zh" and resolve_lang(" EN-GB ") == "en-gb"
    with pytest.raises(ValueError, match="lang is empty"):
        resolve_lang(" ")
    with pytest.raises(ValueError, match="not a G2P mode"):
        make_frontend("en-us", "festival")


@pytest.mark.parametrize("mode", ["misaki", "espeak", "espeak-ipa"])
def test_lexicon_and_markup_override_words_in_every_mode(mode, tmp_path):
    lex = tmp_path / "lexicon.tsv"
    lex.write_text("# names\nkokoro\tkˈOkəɹO\nNASA\tnˈæsə\n", encoding="utf-8")
    fe = make_frontend("en-us", mode, load_lexicon(lex))
    ps = fe.phonemize("Kokoro and kokoro met NASA.")
    assert ps.count("kˈOkəɹO") == 2 and "nˈæsə" in ps
    marked = fe.phonemize("Say [tomato](/təmˈɑtO/) twice.")
    assert "təmˈɑtO" in marked and "tomato" not in marked


def test_lexicon_case_follows_misaki():
    grown = grow_case({"kokoro": "k", "Paris": "p", "NASA": "n"})
    assert grown["Kokoro"] == "k" and grown["paris"] == "p"
    assert "nasa" not in grown and "Nasa" not in grown


def test_bad_lexicon_lines_are_named(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("good\tɡˈʊd\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: .* one word<TAB>phonemes"):
        load_lexicon(bad)
    bad.write_text("word\twɜɹd\nzap\tz$p\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: .*'\$'.* not Kokoro symbols"):
        load_lexicon(bad)
    with pytest.raises(FileNotFoundError, match="lexicon file"):
        load_lexicon(tmp_path / "missing.tsv")
    with pytest.raises(ValueError, match="markup"):
        make_frontend("en-us", "espeak").phonemize("[x](/$$/)")


def test_misaki_never_downloads():
    """With every socket refused, in a fresh process: the spaCy model, misaki's lexicons and
    its espeak fallback all load and phonemize (no download is ever attempted)."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise OSError("network disabled by test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from kokoro_lab.text.frontend import make_frontend
        for lang in ("en-us", "en-gb"):
            print(make_frontend(lang).phonemize("Kokoro costs $3.50, zyxwv."))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert len(out.stdout.strip().splitlines()) == 2


@pytest.mark.parametrize("code", ["j", "z"])
def test_japanese_and_mandarin_text_chunks_equal_kpipeline(code):
    """Several sentences as one line (and two lines): the same chunks as KPipeline's
    non-English path (sentences packed to 400 characters, each chunk phonemized whole)."""
    from pathlib import Path

    name = {"j": "ja_sentences.txt", "z": "zh_sentences.txt"}[code]
    lines = (Path(__file__).parent / "data" / name).read_text(encoding="utf-8").split()
    text = "".join(lines[:6]) + "\n" + "".join(lines[6:9])
    ours = [(c.text, c.phonemes) for c in make_frontend(code).chunks(text)]
    ref = reference_pipeline(code)
    theirs = [(r.graphemes, r.phonemes) for r in ref(text) if r.phonemes]
    assert len(ours) >= 2 and ours == theirs
