"""The exported network: kokoro-onnx's interface over KokoroModel, in traceable operations.

Axes: t tokens (boundary pads included), f alignment frames (600 samples), n samples.

    tokens (1, t) int64, style (1, 256) float32, speed (1,) float32
        -> audio (n,) float32 with n = 600 * sum(duration), duration (t,) int64

`KokoroModel.forward` sizes the alignment with a Python int (`frame_to_token`), which a trace
would freeze at the example's length; here the frame -> token index is computed from tensors
only, with the same numbers. Everything else is the model's own code on its own modules
(weight norm folded, the conv STFT, the tabled excitation noise of `noise.py`).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.length_regulator import durations_from_logits, expand_to_frames

#: kokoro-onnx's names (its v1.0 file: tokens, style, speed -> audio); `duration` is the optional
#: second output kokoro-onnx >= 0.5 reads for phoneme timings.
INPUT_NAMES = ("tokens", "style", "speed")
OUTPUT_NAMES = ("audio", "duration")


def frame_index(durations: Tensor) -> Tensor:
    """durations (1, t) -> the token each frame copies (1, f), f = sum(durations).

    `searchsorted(ends, frame, right=True)` written as a comparison count, so f stays a tensor
    (the exported Range / ReduceSum follow the predicted durations at run time).
    """
    ends = torch.cumsum(durations, dim=1)  # (1, t)
    frames = torch.arange(ends[0, -1], device=durations.device)  # (f,)
    passed = rearrange(ends, "1 t -> 1 1 t") <= rearrange(frames, "f -> 1 f 1")
    return passed.long().sum(-1)


class ExportGraph(nn.Module):
    """tokens (1, t), style (1, 256), speed (1,) -> audio (n,), duration (t,): the model's
    inference path (`KokoroModel.forward` without padding) for one utterance."""

    def __init__(self, model: KokoroModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, style: Tensor, speed: Tensor) -> tuple[Tensor, Tensor]:
        m = self.model
        s = m.prosody_style(style)
        d_en = rearrange(m.bert_encoder(m.bert(tokens)), "b t c -> b c t")
        d = m.predictor.text_encoder(d_en, s)
        durations = durations_from_logits(m.predictor.duration_logits(d), speed)
        index = frame_index(durations)
        en = expand_to_frames(rearrange(d, "b t c -> b c t"), index)
        f0, energy = m.predictor.f0_energy(en, s)
        asr = expand_to_frames(m.text_encoder(tokens), index)
        audio = m.decoder(asr, f0, energy, m.decoder_style(style))
        return rearrange(audio, "1 n -> n"), rearrange(durations, "1 t -> t")
