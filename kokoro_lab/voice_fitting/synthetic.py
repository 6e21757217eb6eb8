"""A speaker folder rendered by our own pipeline: recordings whose true durations are known.

Used to measure fine-tuning (docs/finetune_voice.md), by the tests and by the notebook: a voice V
speaks sentences, the WAVs go to `DIR/wavs/NNNN.wav` (at any sample rate) with
`DIR/metadata.csv`, and the durations the model used are returned for scoring the aligner.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.errors import UserValueError
from kokoro_lab.pipeline import Pipeline


def render_speaker_folder(
    pipeline: Pipeline,
    sentences: list[str],
    out_dir: str | os.PathLike,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, list[int]]:
    """Speak each sentence (one chunk each) into out_dir; returns clip id -> true durations (t,)."""
    import librosa

    out = Path(out_dir)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    durations, lines = {}, []
    for i, text in enumerate(sentences, 1):
        clip_id = f"{i:04d}"
        result = pipeline(text=text)
        if len(result.chunks) != 1:
            raise UserValueError(f"sentence {text!r} needs {len(result.chunks)} chunks; give one")
        audio = result.audio.numpy()
        if sample_rate != SAMPLE_RATE:
            audio = librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=sample_rate)
        sf.write(out / "wavs" / f"{clip_id}.wav", np.clip(audio, -1, 1), sample_rate, "PCM_16")
        durations[clip_id] = result.chunks[0].durations.tolist()
        lines.append(f"{clip_id}|{text}")
    (out / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return durations


def true_durations_tensor(durations: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v) for k, v in durations.items()}


def join_with_pauses(
    audios: list[np.ndarray], pauses: list[float], lead: float = 0.5
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Utterances [(n_i,)] at 24 kHz one after another into one recording (n,): `lead` seconds of
    silence before and after, `pauses[i]` seconds between utterance i and i + 1 -> the audio and
    each utterance's (start, end) in seconds (the one-clip mode's test and measurement)."""
    gaps = [lead, *pauses[: len(audios) - 1], lead]
    parts, spans, at = [], [], 0
    for gap, audio in zip(gaps, [*audios, None]):
        parts.append(np.zeros(round(gap * SAMPLE_RATE), np.float32))
        at += len(parts[-1])
        if audio is not None:
            spans.append((at / SAMPLE_RATE, (at + len(audio)) / SAMPLE_RATE))
            parts.append(np.asarray(audio, np.float32))
            at += len(audio)
    return np.concatenate(parts), spans
