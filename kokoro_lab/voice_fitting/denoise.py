"""Background noise out of a recording before its clips are made.

Axes: n samples at 24 kHz, f level frames (10 ms).

The fit matches the frozen decoder's log-mel to the recording's: steady background noise lifts
every quiet bin of the target, and the style that best "explains" it is no closer to the speaker
(at 20 dB SNR a fit stayed at its start voice: docs/one_clip_voice.md). So a noisy recording is
cleaned first, with stationary spectral gating (noisereduce, Sainburg et al. 2020): a per-bin
noise profile from the frames the voice activity detector calls pauses (segment.speech_frames),
and every bin of the recording attenuated where it is not above that profile.

The recording's SNR is estimated from its level frames as segment.py reads them: speech level (the
95th-percentile frame) minus noise floor (the 10th). Only below DENOISE_BELOW_DB is it cleaned, so
a clean recording (a studio take, or synthetic speech with digital silence) is fitted untouched.
The attenuation stops at PROP_DECREASE of full: full suppression leaves "musical noise" whose
bursts move a speaker embedding more than the noise did (measured on jf_alpha's clip at 20 dB
SNR, Resemblyzer similarity to the clean clip: noisy 0.907, gated at 0.8 0.929, at 1.0 0.866).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from einops import repeat

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.voice_fitting.recording import LEVEL_FRAME, frame_levels_db
from kokoro_lab.voice_fitting.segment import FLOOR_DB, speech_frames

#: Recordings whose estimated SNR (dB) is below this are cleaned; quiet rooms measure above it.
DENOISE_BELOW_DB = 40.0
#: Share of the full attenuation applied to bins at the noise profile.
PROP_DECREASE = 0.8
#: Shortest pause material (seconds) a noise profile is taken from; less: the whole recording's
#: quietest frames stand in (the gate's own percentile estimate).
MIN_NOISE_SECONDS = 0.5


@dataclass(frozen=True)
class NoiseReport:
    """What was measured and done: `snr_db` estimated, `denoised` whether gating ran, from
    `noise_seconds` of pauses."""

    snr_db: float
    denoised: bool
    noise_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_snr_db(audio: np.ndarray) -> float:
    """audio (n,) -> speech level minus noise floor in dB (the floor at least FLOOR_DB)."""
    level = frame_levels_db(audio)
    return float(np.percentile(level, 95) - max(float(np.percentile(level, 10)), FLOOR_DB))


def pause_samples(audio: np.ndarray) -> np.ndarray:
    """audio (n,) -> the samples of its non-speech frames, joined (m,)."""
    quiet = ~speech_frames(audio)  # (f,)
    mask = repeat(quiet, "f -> (f n)", n=LEVEL_FRAME)
    return audio[: len(mask)][mask]


def reduce_noise(
    audio: np.ndarray, below_db: float = DENOISE_BELOW_DB
) -> tuple[np.ndarray, NoiseReport]:
    """audio (n,) at 24 kHz -> (the same audio, or it cleaned when its SNR is below `below_db`,
    float32 (n,); the report)."""
    snr = estimate_snr_db(audio)
    if snr >= below_db:
        return audio, NoiseReport(snr, False, 0.0)
    import noisereduce

    noise = pause_samples(audio)
    seconds = len(noise) / SAMPLE_RATE
    cleaned = noisereduce.reduce_noise(
        y=audio,
        sr=SAMPLE_RATE,
        stationary=True,
        y_noise=noise if seconds >= MIN_NOISE_SECONDS else None,
        prop_decrease=PROP_DECREASE,
        n_jobs=1,
    )
    return cleaned.astype(np.float32), NoiseReport(snr, True, seconds)
