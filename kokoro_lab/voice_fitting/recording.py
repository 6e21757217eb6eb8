"""One user recording -> mono 24 kHz audio fit for voice fitting, or a one-line refusal.

Axes: n samples at 24 kHz, f level frames (10 ms), k frequency bins.

Checks, in order, all before any model loads: the file reads (WAV, FLAC, MP3: whatever
libsndfile reads; any rate, channels averaged), lasts MIN..MAX_RECORDING_SECONDS, is not silent
(its loudest 10 ms frame is above SILENCE_DB: a clip at -30 dBFS speaks about 20 dB above it),
and is not a steady tone (the spectral peak stays on one frequency through most loud frames,
which speech never does: its pitch and formants move). Whether it holds words is the ASR's call
(voice_fitting/one_clip.py). Loudness is normalized per piece later (data.make_clip), so any
level and clipping pass.
"""

from __future__ import annotations

import os

import numpy as np
from einops import rearrange

from kokoro_lab.audio.io import load_audio
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError

#: A recording shorter than this holds too few utterances to fit and to hold some out.
MIN_RECORDING_SECONDS = 5.0
#: Longer recordings belong in a speaker folder (data_dir=): one clip is for a short sample.
MAX_RECORDING_SECONDS = 60.0
#: Level frame: 10 ms.
LEVEL_FRAME = SAMPLE_RATE // 100
#: A recording whose loudest frame is below this (dBFS) is silent.
SILENCE_DB = -60.0
#: Loud frames (within this many dB of the loudest) are where a tone's steadiness is judged.
LOUD_RANGE_DB = 30.0
#: Share of loud frames whose spectral peak sits on the most common peak: above it, a tone.
TONE_PEAK_SHARE = 0.8
TONE_FFT = 2048


def frame_levels_db(audio: np.ndarray, frame: int = LEVEL_FRAME) -> np.ndarray:
    """audio (n,) -> RMS level per frame in dBFS (f,)."""
    f = len(audio) // frame
    power = rearrange(audio[: f * frame] ** 2, "(f n) -> f n", n=frame).mean(-1)
    return 10 * np.log10(power + 1e-12)


def is_steady_tone(audio: np.ndarray) -> bool:
    """audio (n,) at 24 kHz -> whether its spectral peak (within one bin) stays put through at
    least TONE_PEAK_SHARE of the loud frames."""
    import librosa

    spec = np.abs(librosa.stft(audio, n_fft=TONE_FFT, hop_length=LEVEL_FRAME))  # (k, f)
    level = 10 * np.log10((spec**2).sum(0) + 1e-12)
    peaks = spec.argmax(0)[level > level.max() - LOUD_RANGE_DB]
    if len(peaks) == 0:
        return False
    mode = np.bincount(peaks).argmax()
    return float((np.abs(peaks - mode) <= 1).mean()) >= TONE_PEAK_SHARE


def load_recording(path: str | os.PathLike) -> np.ndarray:
    """A sound file -> mono float32 audio (n,) at 24 kHz; a UserError (one line) for a missing,
    unreadable, too short or too long, silent, or tone-only file."""
    audio = load_audio(path, SAMPLE_RATE)  # missing or unreadable: UserFileError/UserValueError
    seconds = len(audio) / SAMPLE_RATE
    name = os.fspath(path)
    if not np.isfinite(audio).all():
        raise UserValueError(f"audio={name!r} holds non-finite samples")
    if seconds < MIN_RECORDING_SECONDS:
        raise UserValueError(
            f"audio={name!r} is {seconds:.1f} s long: give at least "
            f"{MIN_RECORDING_SECONDS:.0f} s of speech (20-30 s fits best)"
        )
    if seconds > MAX_RECORDING_SECONDS:
        raise UserValueError(
            f"audio={name!r} is {seconds:.0f} s long: one clip may last at most "
            f"{MAX_RECORDING_SECONDS:.0f} s; cut it, or use a speaker folder (data_dir=)"
        )
    loudest = float(frame_levels_db(audio).max())
    if loudest < SILENCE_DB:
        raise UserValueError(
            f"audio={name!r} is silent (loudest 10 ms at {loudest:.0f} dBFS, below "
            f"{SILENCE_DB:.0f}): give a recording of someone speaking"
        )
    if is_steady_tone(audio):
        raise UserValueError(
            f"audio={name!r} is a steady tone, not speech: give a recording of someone speaking"
        )
    return audio
