"""The official Japanese and Mandarin front ends: parity with KPipeline, offline, speakable.

Parity is exact string equality with `kokoro.KPipeline(lang_code, model=False)` (no weights are
needed for G2P), on sentence sets written for these tests (tests/data/ja_sentences.txt,
tests/data/zh_sentences.txt), each short enough to be one KPipeline chunk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from reference_kokoro import import_official

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.text.japanese import JapaneseG2P
from kokoro_lab.text.mandarin import MandarinG2P
from kokoro_lab.text.vocab import VOCAB, filter_vocab

DATA = Path(__file__).resolve().parent / "data"
JA_SENTENCES = (DATA / "ja_sentences.txt").read_text(encoding="utf-8").splitlines()
ZH_SENTENCES = (DATA / "zh_sentences.txt").read_text(encoding="utf-8").splitlines()
REPO_ID = "hexgrad/Kokoro-82M"


@pytest.fixture(scope="module")
def ja_g2p() -> JapaneseG2P:
    return JapaneseG2P()


@pytest.fixture(scope="module")
def zh_g2p() -> MandarinG2P:
    return MandarinG2P()


@pytest.fixture(scope="module")
def official():
    """lang code -> the official phonemes of one text, which must be one KPipeline chunk."""
    KPipeline = import_official("pipeline").KPipeline  # whichever way kokoro was imported first

    pipelines = {
        code: KPipeline(lang_code=code, model=False, repo_id=REPO_ID) for code in ("j", "z")
    }

    def phonemes(code: str, text: str) -> str:
        results = list(pipelines[code](text))
        assert len(results) == 1, f"{text!r} is {len(results)} KPipeline chunks, not one"
        return results[0].phonemes

    return phonemes


# --- (a) parity with the official pipeline --------------------------------------------------


def test_sentence_sets_are_written():
    assert len(JA_SENTENCES) >= 15 and len(ZH_SENTENCES) >= 8
    assert all(s.strip() for s in JA_SENTENCES + ZH_SENTENCES)
    assert sum(bool(re.search(r"\d", s)) for s in ZH_SENTENCES) >= 6
    for needed in ("3時15分", "2024年", "100円", "、", "。", "！", "？"):
        assert any(needed in s for s in JA_SENTENCES), needed


def test_japanese_equals_kpipeline(ja_g2p, official):
    ours = ja_g2p.phonemize_batch(JA_SENTENCES)
    theirs = [official("j", s) for s in JA_SENTENCES]
    for text, a, b in zip(JA_SENTENCES, ours, theirs, strict=True):
        assert a == b, f"{text}: ours {a!r} != KPipeline {b!r}"
        assert set(a) <= set(VOCAB)
    assert ja_g2p(JA_SENTENCES[0]) == theirs[0]


def test_mandarin_equals_kpipeline(zh_g2p, official):
    ours = zh_g2p.phonemize_batch(ZH_SENTENCES)
    theirs = [official("z", s) for s in ZH_SENTENCES]
    for text, a, b in zip(ZH_SENTENCES, ours, theirs, strict=True):
        assert a == b, f"{text}: ours {a!r} != KPipeline {b!r}"
        assert set(a) <= set(VOCAB)
    assert zh_g2p(ZH_SENTENCES[0]) == theirs[0]


@pytest.mark.parametrize(
    "code, text, dropped",
    [
        ("j", "コーヒー（安い）を飲む。", "«»"),  # parentheses come out as « »
        ("j", "ABCとgoogleで検索する。", "BCg"),  # ASCII passes through
        ("z", "Hello世界！", "H"),  # text outside the Han block passes through
    ],
)
def test_symbols_outside_the_vocabulary_are_dropped_as_kmodel_does(
    code, text, dropped, ja_g2p, zh_g2p, official
):
    raw = official(code, text)
    ours = (ja_g2p if code == "j" else zh_g2p)(text)
    assert set(dropped) <= set(raw) and not set(dropped) & set(ours)
    assert ours == filter_vocab(raw)


def test_lines_are_phonemized_one_by_one(ja_g2p, zh_g2p):
    a, b = JA_SENTENCES[:2]
    assert ja_g2p(f"{a}\n\n{b}\n") == f"{ja_g2p(a)} {ja_g2p(b)}"
    a, b = ZH_SENTENCES[:2]
    assert zh_g2p(f"{a}\n{b}") == f"{zh_g2p(a)} {zh_g2p(b)}"


# --- (b) offline, and nothing at import -------------------------------------------------------

_OFFLINE_SCRIPT = r"""
import json, socket, sys

attempts = []

def refuse(name):
    def blocked(*args, **kwargs):
        attempts.append(f"{name} {args[1:] if name in ('connect', 'connect_ex') else args}")
        raise OSError(f"network blocked by the test ({name})")
    return blocked

socket.socket.connect = refuse("connect")
socket.socket.connect_ex = refuse("connect_ex")
socket.create_connection = refuse("create_connection")
socket.getaddrinfo = refuse("getaddrinfo")

from kokoro_lab.text.japanese import JapaneseG2P
from kokoro_lab.text.mandarin import MandarinG2P

backends = ("misaki.ja", "misaki.zh", "fugashi", "pyopenjtalk", "jieba", "pypinyin", "cn2an")
at_import = [m for m in backends if m in sys.modules]
ja, zh = JapaneseG2P(), MandarinG2P()
created = [ja._backend is not None, zh._backend is not None]
ja_lines, zh_lines = (open(p, encoding="utf-8").read().splitlines() for p in sys.argv[1:3])
out = {
    "ja": ja.phonemize_batch(ja_lines),
    "zh": zh.phonemize_batch(zh_lines),
    "dictionary": str(ja.dictionary),
    "at_import": at_import,
    "created_in_init": created,
    "attempts": attempts,
}
print(json.dumps(out, ensure_ascii=False))
"""


def test_both_g2ps_run_offline_in_a_fresh_process(tmp_path, ja_g2p, zh_g2p):
    """A fresh interpreter with every socket connection refused (and recorded, in case a library
    swallows the error) imports, builds and runs both G2Ps; TMPDIR is empty, so jieba builds its
    dictionary cache from scratch instead of finding one from an earlier run."""
    offline_flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")  # would hide a hub call, not stop it
    env = {k: v for k, v in os.environ.items() if k not in offline_flags} | {
        "TMPDIR": str(tmp_path)
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _OFFLINE_SCRIPT,
            DATA / "ja_sentences.txt",
            DATA / "zh_sentences.txt",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["attempts"] == []
    assert out["at_import"] == [] and out["created_in_init"] == [False, False]
    assert out["ja"] == ja_g2p.phonemize_batch(JA_SENTENCES)
    assert out["zh"] == zh_g2p.phonemize_batch(ZH_SENTENCES)
    assert (tmp_path / "jieba.cache").is_file()


def test_japanese_reads_with_unidic_lite(ja_g2p):
    import unidic_lite

    assert ja_g2p.dictionary.parent == Path(unidic_lite.DICDIR)


# --- (c) what cannot be spoken -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n", "。", "、。", "！？", "「」", "…", "ー"])
def test_japanese_refuses_unspeakable_text(ja_g2p, text):
    with pytest.raises(ValueError, match="empty|no speakable"):
        ja_g2p(text)


@pytest.mark.parametrize("text", ["", " \n ", "。", "，。", "？！", "《》", "……"])
def test_mandarin_refuses_unspeakable_text(zh_g2p, text):
    with pytest.raises(ValueError, match="empty|no speakable"):
        zh_g2p(text)


def test_batches_pass_unspeakable_texts_through(ja_g2p, zh_g2p):
    assert ja_g2p.phonemize_batch(["", "。", "はい。"]) == ["", ".", "hai."]
    assert zh_g2p.phonemize_batch(["", "。", "好。"]) == ["", ".", "xau↓."]


# --- (d) the phonemes speak ---------------------------------------------------------------------

#: Japanese vowels as misaki writes them (ɯ for u, ɨ for the devoiced-prone u of su/tsu/zu).
_VOWELS = "aeioɯɨ"
#: One mora each: the long mark ー, the geminate っ, and a nasal ん that starts no syllable.
_MORA_NASAL = re.compile(rf"ɴ|[mnŋɲ](?![{_VOWELS}ʲ])")

#: Seconds per mora, whole clip over morae. Read Japanese runs at about 7-8 morae per second
#: (0.12-0.15 s each); a clip also holds the pauses at 、 and 。 and the silence Kokoro puts at
#: both ends, so the five voices measure 0.17-0.26 s per mora on all 15 sentences (seed 0). The
#: bounds leave a factor of 2.5-3 each way: a broken duration predictor (all frames collapsed,
#: or one token stretched over seconds) falls outside, a slow or fast voice does not.
SECONDS_PER_MORA = (0.05, 0.4)
#: Seconds per Mandarin syllable (about 4-6 per second read aloud; 0.33 s measured with the
#: pauses and silences of the clip), same margins.
SECONDS_PER_SYLLABLE = (0.08, 0.6)
#: Whole-clip RMS below this is silence or near it (Kokoro's speech measures 0.055-0.068 here).
MIN_RMS = 0.01


def count_moras(phonemes: str) -> int:
    """Morae in misaki's Japanese phonemes: vowels, ː, ʔ and syllable-final nasals."""
    vowels = sum(phonemes.count(v) for v in _VOWELS)
    return vowels + phonemes.count("ː") + phonemes.count("ʔ") + len(_MORA_NASAL.findall(phonemes))


def test_count_moras():
    assert count_moras("toːkʲoː") == 4  # to-o-kyo-o
    assert count_moras("ʣembɯ") == 3  # ze-n-bu
    assert count_moras("ɕiŋkaɴseɴ") == 6  # shi-n-ka-n-se-n
    assert count_moras("kaʔta") == 3  # ka-t-ta
    assert count_moras("ɲiʥɨːjoɴ") == 5  # ni-ju-u-yo-n


def _speech(pipeline, phonemes: str) -> tuple[float, float]:
    audio = pipeline.synthesize_phonemes(phonemes).audio
    assert torch.isfinite(audio).all()
    return audio.shape[-1] / SAMPLE_RATE, float(audio.pow(2).mean().sqrt())


@pytest.mark.slow
@pytest.mark.parametrize(
    "voice_name", ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
)
def test_embedded_voices_speak_japanese(real_model, ja_g2p, voice_name):
    from kokoro_lab.hub import EMBEDDED_VOICES
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    assert voice_name in EMBEDDED_VOICES
    pipeline = Pipeline(real_model, load_voice(voice_name), lang="ja", seed=0)
    for text in (JA_SENTENCES[2], JA_SENTENCES[4]):  # the two shortest: 15 and 13 morae
        phonemes = ja_g2p(text)
        seconds, rms = _speech(pipeline, phonemes)
        per_mora = seconds / count_moras(phonemes)
        assert rms > MIN_RMS, f"{voice_name} is silent on {text} (rms {rms:.4f})"
        low, high = SECONDS_PER_MORA
        assert low < per_mora < high, f"{voice_name}: {per_mora:.3f} s per mora on {text}"


@pytest.mark.slow
def test_embedded_voice_speaks_mandarin(real_model, zh_g2p):
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    text = ZH_SENTENCES[3]  # no digits, so one Han character is one syllable
    syllables = len(re.findall(r"[\u4e00-\u9fff]", text))
    pipeline = Pipeline(real_model, load_voice("jf_alpha"), lang="zh", seed=0)
    seconds, rms = _speech(pipeline, zh_g2p(text))
    assert rms > MIN_RMS, f"silent on {text} (rms {rms:.4f})"
    low, high = SECONDS_PER_SYLLABLE
    assert low < seconds / syllables < high, f"{seconds / syllables:.3f} s per syllable on {text}"
