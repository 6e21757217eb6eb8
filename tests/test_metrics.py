"""Known-answer tests for kokoro_lab.metrics, on real speech rendered offline.

Test speech: there is no recorded human speech in any installed package (librosa's examples are
downloaded; scipy's and soundfile's test WAVs are tones and noise), so the clips are synthesized
by espeak-ng, the same libespeak-ng that the G2P uses, shipped by the PyPI package
`espeakng-loader`. It is driven through ctypes (`espeak_Synth` with a synchronous callback) from
a private copy of the library, as phonemizer does, so its global state cannot disturb the G2P.
The sentences were picked so that Whisper tiny.en transcribes the "en" voice exactly; a sentence
it misreads would make the WER bound a test of Whisper instead of our code.
"""

from __future__ import annotations

import ctypes
import mmap
import shutil
import time

import numpy as np
import pytest
import torch

from kokoro_lab.metrics import (
    DNSMOS,
    F0Metrics,
    MelCepstralDistortion,
    SpeakerSimilarity,
    SpeakingRate,
    SpeedMeter,
    WhisperASR,
    cer,
    count_words,
    error_counts,
    measure_speed,
    normalize_text,
    summarize,
    wer,
)
from kokoro_lab.metrics.text_norm import integer_to_words, ordinal_to_words, spoken_form

TEXTS = (
    "Please call Stella and ask her to bring these things with her from the store.",
    "She has 7 cats and a small dog.",
    "We will meet at the station on Monday morning.",
)

# espeak-ng C API constants (speak_lib.h)
AUDIO_OUTPUT_SYNCHRONOUS = 0x02
POS_CHARACTER = 1
ESPEAK_RATE = 1  # espeak_PARAMETER: words per minute
ESPEAK_ENDPAUSE = 0x1000
SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class Espeak:
    """Text -> (n,) float32 speech at `sample_rate` (22050 Hz) from a private libespeak-ng."""

    def __init__(self, workdir):
        import espeakng_loader

        library = workdir / "libespeak-ng.so"
        shutil.copy(espeakng_loader.get_library_path(), library)
        self.lib = ctypes.cdll.LoadLibrary(str(library))
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        assert self.sample_rate > 0, "espeak_Initialize failed"
        self._chunks: list[np.ndarray] = []

        def collect(wav, n, _events):
            if n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = SynthCallback(collect)  # kept alive: libespeak holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def __call__(self, text: str, voice: str = "en", rate: int = 175) -> np.ndarray:
        assert self.lib.espeak_SetVoiceByName(voice.encode()) == 0, f"no espeak voice {voice}"
        self.lib.espeak_SetParameter(ESPEAK_RATE, rate, 0)
        self._chunks = []
        buf = text.encode() + b"\0"
        status = self.lib.espeak_Synth(
            buf, ctypes.c_size_t(len(buf)), 0, POS_CHARACTER, 0, ESPEAK_ENDPAUSE, None, None
        )
        assert status == 0, f"espeak_Synth returned {status}"
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0


@pytest.fixture(scope="module")
def espeak(tmp_path_factory):
    engine = Espeak(tmp_path_factory.mktemp("espeak"))
    yield engine
    engine.lib.espeak_Terminate()


@pytest.fixture(scope="module")
def speech(espeak):
    """Clips at 22050 Hz: the TEXTS in the "en" voice, TEXTS[0] in another voice, and all three
    sentences joined by 0.3 s pauses: 9.5 s, just over one 9.01 s DNSMOS window (a shorter clip is
    tiled and scored in eight windows, which only costs time)."""
    clips = [espeak(t) for t in TEXTS]
    pause = np.zeros(int(0.3 * espeak.sample_rate), np.float32)
    return {
        "sr": espeak.sample_rate,
        "clips": clips,
        "other_voice": espeak(TEXTS[0], voice="en-us+f3"),
        "long": np.concatenate([clips[0], pause, clips[1], pause, clips[2]]),
    }


def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1.0, 1.0)


# ---- text normalization and error rates --------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (40, "forty"),
        (115, "one hundred fifteen"),
        (1999, "one thousand nine hundred ninety nine"),
        (2_000_005, "two million five"),
    ],
)
def test_integer_to_words(n, words):
    assert integer_to_words(n) == words


def test_ordinals_and_spoken_form():
    """The spoken form (word counts; the WER rules before Whisper's, docs/wer_normalizer.md)."""
    assert [ordinal_to_words(n) for n in (1, 2, 3, 12, 20, 21, 100)] == [
        "first",
        "second",
        "third",
        "twelfth",
        "twentieth",
        "twenty first",
        "one hundredth",
    ]
    assert spoken_form("It's 7:30, Dr. O'Neil!") == "its seven thirty dr oneil"
    assert spoken_form("1,000 sea-shells, 3.5% on the 2nd") == (
        "one thousand sea shells three point five percent on the second"
    )
    assert count_words("7 cats") == 2
    assert count_words("1,000 cats") == 3


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("It's 7:30, Dr. Smith!", "it is 7 30 doctor smith"),  # contractions, titles
        ("Seven cats.", "7 cats"),  # spelled-out numbers become digits
        ("1,000 sea-shells", "1000 sea shells"),
        ("the twenty first", "the 21st"),
        ("ten dollars", "$10"),
        ("The colour grey", "the color gray"),  # British -> American spelling
        ("Um, hello (laughs) [music] there", "hello there"),  # fillers, bracketed text
        ("Hello.", "hello"),  # Whisper leaves a trailing space here: stripped
    ],
)
def test_wer_normalizer_is_whispers(text, normalized):
    assert normalize_text(text) == normalized


def test_normalizer_rejects_non_text():
    with pytest.raises(ValueError, match="takes a str, got int"):
        normalize_text(7)
    with pytest.raises(ValueError, match="takes a str, got NoneType"):
        spoken_form(None)


def test_wer_known_answers():
    assert wer("the cat sat on the mat", "the cat sat on mat") == pytest.approx(1 / 6)
    assert wer("7 cats", "Seven cats.") == 0.0
    assert wer("The Cat, sat!", "the cat sat") == 0.0
    assert wer("a b", "a b c d") == 1.0  # two insertions over two words: not capped at 1
    assert wer("", "") == 0.0 and wer("", "word") == float("inf")
    assert cer("abc", "abd") == pytest.approx(1 / 3)
    assert wer("Don't go to the 21st", "do not go to the twenty first") == 0.0
    # the same pair under the previous rules: "dont" vs "do not" is 1 substitution + 1 insertion
    previous = error_counts("Don't go", "do not go", normalize=spoken_form)
    assert (previous.substitutions, previous.insertions, previous.rate) == (1, 1, 1.0)


def test_wer_is_corpus_level_with_breakdown():
    result = error_counts(["a b c d", "x"], ["a b c d", "y"])
    assert result.rate == pytest.approx(1 / 5)  # pooled, not the mean of 0 and 1
    assert [u.rate for u in result.utterances] == [0.0, 1.0]
    assert (result.substitutions, result.deletions, result.insertions) == (1, 0, 0)
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])


# ---- ASR -----------------------------------------------------------------------------------------


def test_whisper_transcribes_real_speech(speech):
    asr = WhisperASR(beam_size=5, threads=2)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = asr.error_counts(speech["clips"], speech["sr"], TEXTS)
        assert torch.get_num_threads() == 1  # loading Whisper leaves torch's setting alone
    finally:
        torch.set_num_threads(torch_threads)
    assert result.rate <= 0.15, [u.hypothesis for u in result.utterances]
    assert len(result.utterances) == len(TEXTS)


def test_whisper_rejects_stereo_before_loading():
    asr = WhisperASR()
    with pytest.raises(ValueError, match="mono"):
        asr.transcribe(np.zeros((16_000, 2), np.float32), 16_000)
    assert asr._model is None
    with pytest.raises(FileNotFoundError, match="model.bin"):
        WhisperASR(model_path="/nonexistent")


# ---- speaker similarity --------------------------------------------------------------------------


def test_speaker_similarity(speech):
    sim = SpeakerSimilarity()
    a, sr = speech["clips"][0], speech["sr"]
    assert sim.similarity(a, a.copy(), sr) == pytest.approx(1.0, abs=1e-5)
    same_voice = sim.similarity(a, speech["clips"][1], sr)
    other_voice = sim.similarity(a, speech["other_voice"], sr)
    assert other_voice < same_voice < 1.0
    to_set = sim.similarity_to_set([speech["clips"][1], speech["other_voice"]], speech["clips"], sr)
    assert to_set.shape == (2,) and to_set[0] > to_set[1]


# ---- MOS -----------------------------------------------------------------------------------------


def test_dnsmos_prefers_clean_speech(speech):
    mos = DNSMOS()
    assert mos.name == "dnsmos_ovrl"
    clean = mos.scores(speech["long"], speech["sr"])
    noisy = mos.scores(_noisy(speech["long"], snr_db=5.0), speech["sr"])
    assert 1.0 < noisy.ovrl < clean.ovrl < 5.0
    assert noisy.bak < clean.bak
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        mos.score(2.0 * speech["long"] / np.abs(speech["long"]).max(), speech["sr"])


# ---- spectral and pitch --------------------------------------------------------------------------


def test_mcd(speech):
    x, sr = speech["clips"][0], speech["sr"]
    mcd = MelCepstralDistortion()
    assert mcd(x, x.copy(), sr) == 0.0
    noisy = mcd(x, _noisy(x, snr_db=20.0), sr)
    assert 1.0 < noisy < 20.0
    # a copy delayed by 200 ms: DTW realigns it, plain frame-by-frame pairing cannot
    delayed = np.concatenate([np.zeros(int(0.2 * sr), np.float32), x])
    aligned = mcd(x, delayed, sr)
    assert aligned < 0.5 * MelCepstralDistortion(align="none")(x, delayed, sr)


def test_f0_rmse(speech):
    import librosa

    x, sr = speech["clips"][0], speech["sr"]
    same = F0Metrics()(x, x.copy(), sr)  # DTW pairing
    assert (same.rmse_cents, same.rmse_hz, same.vuv_error) == (0.0, 0.0, 0.0)
    assert same.n_voiced > 100
    # An exact 2-semitone shift: resample by 2^(-2/12) and play at the same rate. Every frequency
    # scales by 2^(2/12) (200 cents) and the clip gets shorter, which align="length" undoes.
    # (librosa.effects.pitch_shift gives the same answer, 205 cents, but its phase vocoder costs
    # a 5 s numba compile.)
    ratio = 2 ** (2 / 12)
    up = librosa.resample(x, orig_sr=sr, target_sr=round(sr / ratio))
    f0 = F0Metrics(align="length")
    shifted = f0(x, up, sr)
    assert shifted.rmse_cents == pytest.approx(200.0, abs=20.0)  # pyin's grid is 10 cents
    assert shifted.vuv_error < 0.1
    f0_ref, voiced = f0.f0(x, sr)
    expected_hz = (ratio - 1) * np.sqrt(np.mean(f0_ref[voiced] ** 2))
    assert shifted.rmse_hz == pytest.approx(expected_hz, rel=0.15)


# ---- duration and speed --------------------------------------------------------------------------


def test_speaking_rate_known_durations():
    sr = 24_000
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr).astype(np.float32)
    silence = np.zeros(sr, np.float32)
    clip = SpeakingRate()(np.concatenate([silence, tone, silence]), sr, n_words=5, n_phonemes=30)
    assert clip.duration_s == pytest.approx(4.0)
    assert clip.speech_s == pytest.approx(2.0, abs=0.05)
    assert clip.words_per_minute == pytest.approx(150.0, rel=0.03)
    assert clip.phonemes_per_second == pytest.approx(15.0, rel=0.03)
    short = SpeakingRate()(tone[:sr], sr, n_words=5)
    stats = summarize([clip, short])
    assert stats["total_s"] == pytest.approx(5.0)
    assert stats["pooled_words_per_minute"] == pytest.approx(10 / 3 * 60, rel=0.03)


def test_speed_meter_rtf():
    """rtf = wall seconds / audio seconds. The sleep bounds the wall time from below only (a
    loaded machine stretches it), so there is no upper bound: speed targets are the benchmark's."""
    sr = 24_000

    def synthesize():  # at least 0.2 s of "work" for 1 s of audio
        time.sleep(0.2)
        return np.zeros(sr, np.float32)

    with SpeedMeter() as meter:
        audio = synthesize()
    report = meter.report(audio_s=len(audio) / sr)
    assert report.wall_s >= 0.2 and report.rtf == pytest.approx(report.wall_s)
    assert meter.report(audio_s=4.0).rtf == pytest.approx(report.wall_s / 4)
    best = measure_speed(synthesize, sr, warmup=0, repeats=2)
    assert best.audio_s == 1.0 and best.rtf >= 0.2 and best.rtf == pytest.approx(best.wall_s)
    with pytest.raises(ValueError, match="after the"):
        SpeedMeter().report(1.0)


def test_speed_meter_peak_memory():
    def allocate():
        # 100 MB from a fresh anonymous mapping: np.ones could reuse heap pages that an earlier
        # test freed while the tuned allocator (runtime.tune_allocator) kept them resident
        with mmap.mmap(-1, 100_000_000) as region:
            buffer = np.frombuffer(region, np.uint8)
            buffer[::4096] = 1  # touch every page so it is resident
            time.sleep(0.5)  # let the poller (every 2 ms) see it, even on a loaded machine
            value = float(buffer[-4096])
            del buffer
        return value

    with SpeedMeter() as meter:
        allocate()
    assert meter.peak_rss_bytes > 80e6
    with SpeedMeter() as idle:
        time.sleep(0.05)
    assert idle.peak_rss_bytes < 20e6
