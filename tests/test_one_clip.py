"""Fitting a voicepack from one recording (docs/one_clip_voice.md): splitting at pauses, words
per piece, the refusals (all before any model loads), and scripts/finetune_voice.py audio=FILE end
to end on a real clip: four Harvard sentences spoken by our pipeline with an embedded voice,
written at 22.05 kHz stereo, no transcript given."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import compose_config, run_script

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserError
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.metrics.error_rate import error_counts
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.voice_fitting.denoise import reduce_noise
from kokoro_lab.voice_fitting.recording import load_recording
from kokoro_lab.voice_fitting.segment import split_at_pauses
from kokoro_lab.voice_fitting.synthetic import join_with_pauses
from kokoro_lab.voice_fitting.words import (
    Word,
    split_by_length,
    time_transcript,
    words_per_piece,
)
from kokoro_lab.voices import VoicePack, load_voice

TARGET, START = "jf_nezumi", "jm_kumo"
FILE_RATE = 22_050


@pytest.fixture(autouse=True)
def _threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- splitting and words (no model) -------------------------------------------------------------


def _bursts(spans: list[tuple[float, float]], seconds: float, noise_db: float | None = None):
    """Speech-like bursts (noise modulated at a syllable rate) at known spans, silence between."""
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = np.zeros_like(t)
    for a, b in spans:
        inside = (t >= a) & (t < b)
        syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t[inside])
        audio[inside] = 0.1 * syllables * rng.standard_normal(inside.sum())
    if noise_db is not None:
        audio += 10 ** (noise_db / 20) * rng.standard_normal(len(t))
    return audio.astype(np.float32)


@pytest.mark.parametrize("noise_db", [None, -45.0])
def test_split_at_pauses_finds_the_known_pauses(noise_db):
    truth = [(0.5, 2.1), (2.7, 4.0), (4.5, 6.8)]
    spans = split_at_pauses(_bursts(truth, 7.5, noise_db))
    assert len(spans) == len(truth)
    for (a, b), (ta, tb) in zip(spans, truth):
        # each piece covers its utterance, with at most ~0.15 s of the pause either side
        assert ta - 0.16 <= a / SAMPLE_RATE <= ta and tb <= b / SAMPLE_RATE <= tb + 0.16


def test_background_noise_is_reduced_only_when_present():
    """A recording at ~20 dB SNR is gated: its pauses drop by well over 6 dB, its speech keeps
    its level; a clean one (digital silence between bursts) is returned untouched."""
    truth = [(0.5, 2.1), (2.7, 4.0), (4.5, 6.8)]
    noisy = _bursts(truth, 7.5, noise_db=-45.0)
    cleaned, report = reduce_noise(noisy)
    assert report.denoised and 15 < report.snr_db < 40 and report.noise_seconds > 1.0
    frame = SAMPLE_RATE // 100
    t = np.arange(len(noisy) // frame) * frame / SAMPLE_RATE
    speech = np.zeros(len(t), bool)
    for a, b in truth:
        speech |= (t >= a + 0.05) & (t < b - 0.05)
    pause = ~speech & (t > 0.1) & (t < 7.4)
    for a, b in truth:
        pause &= (t < a - 0.1) | (t > b + 0.1)

    def level(audio, frames):
        x = audio[: len(t) * frame].reshape(len(t), frame)[frames]
        return 10 * np.log10((x**2).mean())

    assert level(noisy, pause) - level(cleaned, pause) > 10
    assert abs(level(noisy, speech) - level(cleaned, speech)) < 1.0
    clean = _bursts(truth, 7.5)
    same, report = reduce_noise(clean)
    assert not report.denoised and report.snr_db > 40 and same is clean


def test_an_mp3_recording_reads_and_splits(tmp_path):
    """MP3 (libsndfile's MPEG Layer III) at 44.1 kHz stereo: read, resampled to 24 kHz mono, the
    same utterances found."""
    import librosa

    truth = [(0.5, 2.1), (2.7, 4.0), (4.5, 6.8)]
    audio = librosa.resample(_bursts(truth, 7.5), orig_sr=SAMPLE_RATE, target_sr=44_100)
    path = tmp_path / "clip.mp3"
    sf.write(path, np.stack([audio, audio], axis=1), 44_100, format="MP3")
    loaded = load_recording(path)
    assert abs(len(loaded) / SAMPLE_RATE - 7.5) < 0.1  # the encoder pads a few ms at most
    spans = split_at_pauses(loaded)
    assert len(spans) == len(truth)
    for (a, b), (ta, tb) in zip(spans, truth):
        assert abs(a / SAMPLE_RATE - ta) < 0.2 and abs(b / SAMPLE_RATE - tb) < 0.2


def test_a_long_utterance_is_cut():
    spans = split_at_pauses(_bursts([(0.2, 29.0)], 30.0), max_piece=12.0)
    assert len(spans) >= 3 and all((b - a) / SAMPLE_RATE <= 12.3 for a, b in spans)


def test_words_go_to_their_pieces():
    heard = [Word("the", 0.1, 0.2), Word("birch", 0.3, 0.6), Word("canoe", 2.0, 2.4)]
    assert words_per_piece(heard, [(0.0, 1.0), (1.8, 3.0)]) == ["the birch", "canoe"]
    # a given transcript keeps its own spelling and punctuation; unmatched words are interpolated
    timed = time_transcript("The birch, canoe slid.", heard)
    assert words_per_piece(timed, [(0.0, 1.0), (1.8, 3.0)]) == ["The birch,", "canoe slid."]
    # no ASR: shared out by length, cut at punctuation when close
    assert split_by_length("今日は晴れ。明日は雨です。", [1.0, 1.2]) == [
        "今日は晴れ。",
        "明日は雨です。",
    ]


# -- refusals: one line, exit 2, before any model loads ------------------------------------------


def _clip(path, audio, rate=FILE_RATE):
    sf.write(path, audio, rate)
    return path


def _tone(seconds):
    t = np.arange(round(seconds * FILE_RATE)) / FILE_RATE
    return 0.3 * np.sin(2 * np.pi * 440 * t)


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (
            lambda p: _clip(p, 0.1 * np.random.default_rng(0).standard_normal(2 * FILE_RATE)),
            (),
            "2.0 s long",
        ),
        (lambda p: _clip(p, np.zeros(8 * FILE_RATE)), (), "silent"),
        (lambda p: _clip(p, _tone(8)), (), "steady tone"),
        (lambda p: _clip(p, _tone(8)), ("lang=ja",), "text="),
        (lambda p: p.parent / "missing.wav", (), "does not exist"),
    ],
    ids=["short", "silent", "tone", "ja-without-text", "missing"],
)
def test_unusable_recordings_are_refused(tmp_path, make, extra, message):
    from kokoro_lab.tasks.finetune_voice import finetune_voice

    path = make(tmp_path / "clip.wav")
    cfg = compose_config(
        "finetune_voice",
        f"audio={path}",
        "name=x",
        f"output_dir={tmp_path / 'o'}",
        "logger=none",
        *extra,
    )
    with pytest.raises(UserError) as err:
        finetune_voice(cfg)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_script_refuses_a_tone_with_one_line(tmp_path):
    path = _clip(tmp_path / "tone.wav", _tone(8))
    proc = run_script(
        "finetune_voice.py",
        f"audio={path}",
        "name=x",
        f"output_dir={tmp_path / 'o'}",
        "logger=none",
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "steady tone" in lines[0]


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory, real_model):
    """Four Harvard sentences by TARGET with pauses, at 22.05 kHz stereo, 8 dB quieter on the
    right; and the sentences."""
    import librosa

    sentences = harvard_sentences(4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: set up before the autouse fixture
    try:
        pipe = Pipeline(real_model, load_voice(TARGET), lang="en-us", seed=0, g2p="espeak")
        audio, _ = join_with_pauses(
            [pipe(text=t).audio.numpy() for t in sentences], [0.6, 0.45, 0.7]
        )
    finally:
        torch.set_num_threads(threads)
    audio = librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=FILE_RATE)
    path = tmp_path_factory.mktemp("one_clip") / "voice.wav"
    sf.write(path, np.stack([audio, 0.4 * audio], axis=1), FILE_RATE, "PCM_16")
    return path, sentences


@pytest.mark.slow
def test_one_clip_end_to_end(recording, tmp_path):
    path, sentences = recording
    out = tmp_path / "out"
    few_steps = ("steps=2", "prosody_steps=3", "logger=none", f"init_voice={START}")
    proc = run_script(
        "finetune_voice.py", f"audio={path}", "name=one", f"output_dir={out}", *few_steps
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pack = torch.load(out / "one.pt", weights_only=True)
    assert list(pack.shape) == [510, 1, 256] and bool(torch.isfinite(pack).all())
    assert sf.info(out / "one.wav").samplerate == SAMPLE_RATE
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("transcript", "heldout_similarity", "cpu_seconds", "wall_seconds", "peak_rss_mb"):
        assert metrics[key] is not None, key
    for key in ("clips", "speaker_sim_to_data", "losses_last_20", "init", "steps"):
        assert key in metrics  # the folder mode's keys stay
    assert error_counts(" ".join(sentences), metrics["transcript"]).rate < 0.15
    # one piece per sentence (the pauses inside a sentence are shorter), one in four held out
    assert len(metrics["pieces"]) == 4 and metrics["clips"] == 3 and metrics["heldout_clips"] == 1
    assert 0 < metrics["heldout_similarity"] <= 1
    assert metrics["noise"]["denoised"] is False  # synthetic speech: nothing to clean

    # the result speaks through scripts/infer.py's task (voice_path=OUT/NAME.pt)
    from kokoro_lab.tasks.infer import infer

    wav = tmp_path / "hello.wav"
    infer(compose_config("infer", f"voice_path={out / 'one.pt'}", "text=Hello.", f"output={wav}"))
    assert (
        sf.info(wav).samplerate == SAMPLE_RATE and VoicePack.load(out / "one.pt").release == "v1.0"
    )


@pytest.mark.slow
def test_a_given_transcript_is_used(recording, tmp_path):
    """text= (free text, commas and apostrophes) replaces the ASR's words; pieces from the
    library, no fitting."""
    from kokoro_lab.voice_fitting.one_clip import one_clip

    path, sentences = recording
    text = " ".join(sentences).replace("The birch", "The birch,")
    clip = one_clip(path, text=text)
    assert clip.transcript == text
    assert len(clip.train) == 3 and len(clip.heldout) == 1
