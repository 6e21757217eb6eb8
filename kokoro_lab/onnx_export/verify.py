"""An exported file against the torch model: durations, waveform, spectrum and loudness.

Axes: t tokens (boundary pads included), n samples.

The torch side is `export.reference_model` (the loaded model with the export's noise table and
its own STFT), so the only differences left are the runtime's arithmetic and, for int8, the
quantization. The excitation phase is an integral of F0 over the utterance, so float-level
differences grow into waveform differences; the waveform SNR is therefore reported next to the
mel-cepstral distortion (MCD, c0 excluded: level-free) on identical frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kokoro_lab.metrics.spectral import MelCepstralDistortion
from kokoro_lab.model import KokoroModel
from kokoro_lab.text import model_input_ids
from kokoro_lab.voices import VoicePack


def rms_dbfs(audio: np.ndarray) -> float:
    """audio (n,) in [-1, 1] -> RMS level in dB relative to full scale."""
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-12))


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """reference, other (n,) -> 10 log10(|reference|^2 / |reference - other|^2)."""
    err = np.sum(np.square(reference - other, dtype=np.float64))
    return float(10 * np.log10(np.sum(np.square(reference, dtype=np.float64)) / max(err, 1e-30)))


def feeds(phonemes: str, voice: VoicePack, speed: float = 1.0) -> dict[str, np.ndarray]:
    """kokoro-onnx's inputs for one utterance: tokens (1, t) with the boundary pads, the voicepack
    row for its phoneme count (1, 256), speed (1,)."""
    return {
        "tokens": np.array([model_input_ids(phonemes)], dtype=np.int64),
        "style": voice.select(len(phonemes)).numpy().astype(np.float32),
        "speed": np.array([speed], dtype=np.float32),
    }


def ort_session(path: str | Path, threads: int = 2):
    """An onnxruntime CPU session with `threads` intra-op threads and one inter-op thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def torch_reference(model: KokoroModel, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """audio (n,), durations (t,) of the torch model on kokoro-onnx's inputs."""
    with torch.inference_mode():
        out = model(torch.from_numpy(feed["tokens"]), torch.from_numpy(feed["style"]))
    return out.audio[0].numpy(), out.durations[0].numpy()


@dataclass
class Comparison:
    """One utterance through torch and through an ONNX session."""

    durations_equal: bool | None  # None: the file has no `duration` output (kokoro-onnx's)
    length_equal: bool  # the same number of samples (= the same total duration)
    snr_db: float | None  # None where the lengths differ
    mcd_db: float | None
    torch_rms_dbfs: float
    onnx_rms_dbfs: float

    @property
    def loudness_delta_db(self) -> float:
        return self.onnx_rms_dbfs - self.torch_rms_dbfs


def compare(session, reference: tuple[np.ndarray, np.ndarray], feed: dict) -> Comparison:
    """`session` on `feed` against `reference` = torch_reference(model, feed)."""
    audio, durations = reference
    out = session.run(None, feed)
    same = out[0].shape == audio.shape
    mcd = MelCepstralDistortion(align="none")
    return Comparison(
        durations_equal=np.array_equal(out[1], durations) if len(out) > 1 else None,
        length_equal=same,
        snr_db=snr_db(audio, out[0]) if same else None,
        mcd_db=mcd(audio, out[0], mcd.sample_rate) if same else None,
        torch_rms_dbfs=rms_dbfs(audio),
        onnx_rms_dbfs=rms_dbfs(out[0]),
    )
