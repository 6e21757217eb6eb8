"""Durations per token for a recording: the frozen predictor's, rescaled to the clip's length.

Axes: t tokens (with the two boundary pads), f duration frames (600 samples).

Kokoro's own duration predictor, run with a voice's prosody style, gives each token's relative
length; scaling them (cumulative rounding) to the number of frames the recording has fixes the
speaking rate. Re-running it with the fitted prosody style (`realign`) refines the proportions
toward the target speaker's. docs/finetune_voice.md reports its error against the true durations
of audio rendered by our own pipeline.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kokoro_lab.config import SAMPLES_PER_FRAME
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.length_regulator import rescale_durations


@torch.no_grad()
def predicted_durations(model: KokoroModel, tokens: Tensor, style: Tensor) -> Tensor:
    """tokens (t,), style (1, 2s) -> integer frames per token (t,) at speed 1."""
    prosody, _ = model.predict_prosody(tokens[None], style)
    return prosody.durations[0]


def align(model: KokoroModel, tokens: Tensor, style: Tensor, frames: int) -> Tensor:
    """tokens (t,), style (1, 2s) -> durations (t,) summing to `frames`."""
    d = predicted_durations(model, tokens, style)
    return torch.tensor(rescale_durations(d.tolist(), frames))


def duration_error(predicted: Tensor, true: Tensor) -> dict[str, float]:
    """Durations (t,), (t,) -> mean absolute error per token in frames (25 ms) and the mean
    absolute error of token boundaries (cumulative sums) in frames."""
    p, q = predicted.float(), true.float()
    return {
        "token_mae_frames": float((p - q).abs().mean()),
        "boundary_mae_frames": float((p.cumsum(0) - q.cumsum(0)).abs().mean()),
    }


def durations_from_ends(ends: np.ndarray, frames: int) -> Tensor:
    """Token end frames (t,) (any reals) -> durations (t,) >= 1 summing to `frames`."""
    ends = np.round(np.asarray(ends, dtype=np.float64)).astype(np.int64)
    t = len(ends)
    for k in range(t):  # every token at least one frame, and room left for the rest
        low = (ends[k - 1] if k else 0) + 1
        ends[k] = min(max(ends[k], low), frames - (t - 1 - k))
    ends[-1] = frames
    return torch.from_numpy(np.diff(np.concatenate([[0], ends])))


@torch.no_grad()
def dtw_align(model: KokoroModel, tokens: Tensor, style: Tensor, audio: Tensor, mel) -> Tensor:
    """tokens (t,), style (1, 2s), audio (600 f,) -> durations (t,) summing to f.

    The clip is rendered with `style` (so its token boundaries are known), both log-mels are
    mean-normalized per bin (which removes most of the speaker's spectral tilt) and aligned by
    DTW on cosine distance; each rendered boundary maps to the mean recording frame matched to it.
    """
    import librosa

    out = model(tokens[None], style, generator=torch.Generator().manual_seed(0))
    rendered = out.audio[0, : int(out.audio_lengths[0])]
    a, b = mel(rendered[None])[0], mel(audio[None])[0]  # (m, F), 300-sample frames
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    _, path = librosa.sequence.dtw(X=a.numpy(), Y=b.numpy(), metric="cosine")
    matched = np.zeros(a.shape[1])
    counts = np.zeros(a.shape[1])
    np.add.at(matched, path[:, 0], path[:, 1])
    np.add.at(counts, path[:, 0], 1)
    matched = matched / np.maximum(counts, 1)
    ends_rendered = np.clip(2 * np.cumsum(out.durations[0].numpy()), 1, a.shape[1])
    ends = (matched[ends_rendered - 1] + 1) / 2  # mel frames -> duration frames
    return durations_from_ends(ends, audio.shape[-1] // SAMPLES_PER_FRAME)
