"""A speaker folder (LJSpeech layout) -> clean clips at 24 kHz with phonemes, F0 and energy.

Axes: n samples at 24 kHz, t tokens (with the two boundary pads), F mel frames (300 samples,
half a duration frame), f duration frames (600 samples).

Layout: `DIR/metadata.csv` with rows `id|text` or `id|text|normalized_text` (the normalized text
is spoken when present, as in LJSpeech) and `DIR/wavs/ID.wav` at any sample rate. Every clip is
resampled to 24 kHz (librosa, soxr) and loudness-normalized to the level Kokoro itself speaks at,
so the energy targets are in the units the frozen predictor produces. Rows that cannot be used
(missing or unreadable file, empty text, absurd duration, more phonemes than frames or than the
510-token context) are reported as (file, row, reason) and skipped: a bad row never stops a run.
The metadata is read by the training data's parser (`kokoro_lab.data.dataset.read_metadata`).

F0 (pyin, the slow part) is cached per clip in `cache_dir`, keyed by the feature settings and the
file's size and modification time.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch import Tensor

from kokoro_lab.audio.features import FeatureSettings, LogMelSpectrogram, energy_from_log_mel, pitch
from kokoro_lab.audio.io import load_audio
from kokoro_lab.config import CONTEXT_LENGTH, SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_lab.data.metadata import BadRow, read_metadata
from kokoro_lab.errors import UserFileError, UserValueError

log = logging.getLogger(__name__)

#: A speaker folder's metadata.csv columns: `id|text` or `id|text|normalized_text`.
COLUMNS = ("id", "text", "normalized")
#: Active-speech RMS (dBFS) every clip is scaled to: the level of Kokoro's own output
#: (measured on jf_nezumi, Harvard sentences 1-4: -23.4 to -21.7 dBFS).
TARGET_LEVEL_DB = -22.0
#: Clips shorter or longer than this are reported as absurd.
MIN_SECONDS, MAX_SECONDS = 0.4, 30.0


@dataclass
class Clip:
    """One usable recording: audio (n = 600 f,), tokens (t,), F0 and energy (2f,) in the units
    of the predictor's outputs (Hz, StyleTTS 2 log-norm), durations (t,) once aligned."""

    id: str
    text: str
    phonemes: str
    tokens: Tensor
    audio: Tensor
    f0: Tensor
    energy: Tensor
    durations: Tensor | None = None

    @property
    def frames(self) -> int:
        return self.audio.shape[-1] // SAMPLES_PER_FRAME

    @property
    def num_phonemes(self) -> int:
        """Phonemes without the boundary pads: the voicepack row is num_phonemes - 1."""
        return self.tokens.shape[-1] - 2


def active_level_db(
    audio: np.ndarray, frame: int = SAMPLES_PER_FRAME, floor_db: float = 40.0
) -> float:
    """RMS in dBFS over the frames within `floor_db` of the loudest one (speech, not pauses)."""
    n = len(audio) // frame
    if n == 0:
        return float(10 * np.log10(np.mean(audio**2) + 1e-12))
    power = rearrange(audio[: n * frame] ** 2, "(f n) -> f n", n=frame).mean(-1) + 1e-12
    db = 10 * np.log10(power)
    return float(10 * np.log10(power[db > db.max() - floor_db].mean()))


def normalize_loudness(audio: np.ndarray, target_db: float = TARGET_LEVEL_DB) -> np.ndarray:
    """Scale to `target_db` active RMS, then down if needed so no sample clips."""
    gain = 10 ** ((target_db - active_level_db(audio)) / 20)
    out = audio * gain
    peak = float(np.abs(out).max()) if out.size else 0.0
    return (out / peak * 0.99 if peak > 0.99 else out).astype(np.float32)


def _cached_f0(audio: np.ndarray, stamp: str | None, cache_dir: Path | None, frames: int) -> Tensor:
    """pyin F0 (2f,) of `audio`, cached in `cache_dir` under `stamp` (what identifies the source
    audio; None: not cached)."""
    settings = FeatureSettings()
    key = None
    if cache_dir is not None and stamp is not None:
        stamp = f"{stamp}|{settings.digest()}|{TARGET_LEVEL_DB}"
        key = cache_dir / f"f0-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.pt"
        if key.is_file():
            f0 = torch.load(key, weights_only=True)
            if f0.shape[-1] == frames:
                return f0
    f0 = torch.from_numpy(pitch(audio, settings, frames))
    if key is not None:
        from kokoro_lab.io import atomic_write

        atomic_write(key, lambda tmp: torch.save(f0, tmp))
    return f0


def file_stamp(wav: Path) -> str:
    """A file's identity for the F0 cache: path, size and modification time."""
    st = wav.stat()
    return f"{wav.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def make_clip(
    clip_id: str,
    text: str,
    raw: np.ndarray,
    g2p,
    mel: LogMelSpectrogram,
    f0_stamp: str | None = None,
    cache_dir: Path | None = None,
) -> Clip | str:
    """Mono audio (n,) at 24 kHz and its text -> a Clip (loudness-normalized, with F0 and
    energy), or the reason it cannot be used. Both the folder mode and the one-clip mode
    (voice_fitting/one_clip.py) build their clips here."""
    from kokoro_lab.text import model_input_ids

    seconds = len(raw) / SAMPLE_RATE
    if not MIN_SECONDS <= seconds <= MAX_SECONDS or not np.isfinite(raw).all():
        return f"absurd duration or samples ({seconds:.2f} s)"
    phonemes = g2p.phonemize(text)
    ids = model_input_ids(phonemes)
    audio = normalize_loudness(raw)
    frames = len(audio) // SAMPLES_PER_FRAME
    if len(ids) <= 2:
        return "text has no speakable phonemes"
    if len(ids) - 2 > CONTEXT_LENGTH:
        return f"{len(ids) - 2} phonemes exceed the 510 context"
    if frames < len(ids):
        return f"{len(ids)} tokens in {frames} frames: too fast"
    x = torch.from_numpy(audio[: frames * SAMPLES_PER_FRAME].copy())
    energy = energy_from_log_mel(mel(x[None]))[0, : 2 * frames]
    f0 = _cached_f0(x.numpy(), f0_stamp, cache_dir, 2 * frames)
    return Clip(clip_id, text, phonemes, torch.tensor(ids), x, f0, energy)


def load_speaker_folder(
    data_dir: str | os.PathLike,
    lang: str = "en-us",
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> tuple[list[Clip], list[BadRow]]:
    """A speaker folder -> usable clips (with F0 and energy, not yet aligned) and the bad rows."""
    from kokoro_lab.text import get_g2p

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserFileError(f"data_dir {str(data_dir)!r} is not a directory")
    rows, bad = read_metadata(data_dir, COLUMNS)
    if limit is not None:
        rows = rows[:limit]
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    g2p = get_g2p(lang)
    mel = LogMelSpectrogram()
    clips = []
    for row in rows:
        wav, text = row.wav, row.text
        skip = partial(BadRow, str(wav), row.line)
        try:
            raw = load_audio(wav, SAMPLE_RATE)
        except (RuntimeError, OSError, ValueError) as err:  # libsndfile errors are RuntimeErrors
            bad.append(skip(f"unreadable audio ({type(err).__name__}: {err})"))
            continue
        clip = make_clip(row.id, text, raw, g2p, mel, file_stamp(wav), cache)
        if isinstance(clip, str):
            bad.append(skip(clip))
        else:
            clips.append(clip)
    for b in bad:
        log.warning("skipped %s (metadata line %d): %s", b.file, b.row, b.reason)
    if not clips:
        raise UserValueError(
            f"no usable clip in {str(data_dir)!r}: {len(bad)} rows were skipped "
            f"({'; '.join(f'{b.file}: {b.reason}' for b in bad[:3])})"
        )
    return clips, bad
