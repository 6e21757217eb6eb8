"""One recording (and maybe its transcript) -> the training and held-out clips of a fit.

Axes: n samples at 24 kHz.

`load_recording` reads and checks the file (recording.py); `split_at_pauses` cuts it into
utterances (segment.py); a noisy recording is cleaned for the fit (denoise.py: the words are
still heard on the original, which Whisper handles better than gated audio); each utterance gets
its words (words.py):

- English (`lang` en-*), no transcript: Whisper tiny.en, the evaluation's ASR, with word
  timestamps; no words heard means no speech, a refusal;
- English with `text`: the given words, timed by matching them to Whisper's;
- any other language: `text` is required (Whisper tiny.en knows only English) and is shared out
  over the utterances by length (words.split_by_length).

Each utterance with words becomes a Clip exactly as a speaker folder's row does
(data.make_clip); every HELDOUT_EVERY-th usable one (at least one) is held out: the fit never
sees it, and the speaker similarity of its sentence rendered with the fitted voice is the
held-out score that stops the fit.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.data.metadata import BadRow
from kokoro_lab.errors import UserValueError
from kokoro_lab.voice_fitting.data import Clip, make_clip
from kokoro_lab.voice_fitting.denoise import reduce_noise
from kokoro_lab.voice_fitting.recording import load_recording
from kokoro_lab.voice_fitting.segment import split_at_pauses
from kokoro_lab.voice_fitting.words import (
    heard_words,
    split_by_length,
    time_transcript,
    words_per_piece,
)

log = logging.getLogger(__name__)

#: Fewest usable utterances: some to fit, at least one to hold out.
MIN_PIECES = 2


def is_english(lang: str) -> bool:
    return lang.lower().split("-")[0] in ("en", "a", "b")


def check_text_for(lang: str, text: str | None) -> None:
    """Whisper tiny.en transcribes only English: other languages need `text=`."""
    if not text and not is_english(lang):
        raise UserValueError(
            f'lang={lang!r} needs its transcript: pass text="..." (the ASR, Whisper tiny.en, '
            "transcribes only English)"
        )


@dataclass
class OneClip:
    """A recording cut into clips: `train` fitted, `heldout` only scored; `transcript` the text of
    every piece in order; `skipped` the pieces that could not be used; `noise` the SNR estimate
    and whether the recording was cleaned (denoise.NoiseReport.as_dict)."""

    train: list[Clip]
    heldout: list[Clip]
    transcript: str
    pieces: list[dict] = field(default_factory=list)
    skipped: list[BadRow] = field(default_factory=list)
    noise: dict = field(default_factory=dict)


def piece_texts(
    audio: np.ndarray, spans: list[tuple[int, int]], text: str | None, lang: str, asr=None
) -> list[str]:
    """audio (n,), utterance spans in samples -> each utterance's text (see the module
    docstring); `asr` a WhisperASR (built when None and needed)."""
    seconds = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in spans]
    if not is_english(lang):
        return split_by_length(text, [b - a for a, b in seconds])
    if asr is None:
        from kokoro_lab.metrics.asr import WhisperASR

        asr = WhisperASR()
    heard = heard_words(asr, audio, SAMPLE_RATE)
    if not heard and not text:
        raise UserValueError("no words were heard in the recording: give a recording of speech")
    words = time_transcript(text, heard) if text else heard
    return words_per_piece(words, seconds)


def one_clip(
    path: str | os.PathLike,
    text: str | None = None,
    lang: str = "en-us",
    heldout_every: int = 4,
    asr=None,
) -> OneClip:
    """A recording file (and its transcript, or None) -> training and held-out clips."""
    from kokoro_lab.audio.features import LogMelSpectrogram
    from kokoro_lab.text import get_g2p

    check_text_for(lang, text)
    audio = load_recording(path)
    spans = split_at_pauses(audio)
    if not spans:
        raise UserValueError(f"audio={os.fspath(path)!r} holds no speech")
    texts = piece_texts(audio, spans, text, lang, asr)
    cleaned, noise = reduce_noise(audio)
    if noise.denoised:
        log.info("estimated SNR %.1f dB: background noise reduced before fitting", noise.snr_db)
    g2p, mel = get_g2p(lang), LogMelSpectrogram()
    clips, pieces, skipped = [], [], []
    for i, ((a, b), words) in enumerate(zip(spans, texts), 1):
        piece = {"piece": i, "start_s": a / SAMPLE_RATE, "end_s": b / SAMPLE_RATE, "text": words}
        clip = make_clip(f"{i:04d}", words, cleaned[a:b], g2p, mel) if words else "no words"
        if isinstance(clip, str):
            skipped.append(BadRow(os.fspath(path), i, f"piece {i}: {clip}"))
            log.warning(
                "skipped piece %d (%.1f-%.1f s): %s", i, a / SAMPLE_RATE, b / SAMPLE_RATE, clip
            )
        else:
            clips.append(clip)
        pieces.append({**piece, "used": not isinstance(clip, str)})
    if len(clips) < MIN_PIECES:
        raise UserValueError(
            f"audio={os.fspath(path)!r} gave {len(clips)} usable utterance(s) of {len(spans)}: "
            f"at least {MIN_PIECES} are needed (speak a few sentences with pauses between)"
        )
    held = set(range(heldout_every - 1, len(clips), heldout_every)) or {len(clips) - 1}
    for p in pieces:
        p["heldout"] = False
    by_id = {p["piece"]: p for p in pieces}
    for k in held:
        by_id[int(clips[k].id)]["heldout"] = True
    return OneClip(
        train=[c for k, c in enumerate(clips) if k not in held],
        heldout=[c for k, c in enumerate(clips) if k in held],
        transcript=" ".join(t for t in texts if t),
        pieces=pieces,
        skipped=skipped,
        noise=noise.as_dict(),
    )
