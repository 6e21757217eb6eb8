"""KokoroModel: the Kokoro-82M network, tokens + style -> audio, durations, F0 and energy.

Axes: b batch, t tokens, f alignment frames (600 samples at 24 kHz), c channels.

    tokens ─ PL-BERT ─ bert_encoder ─┐
                                     ├ prosody predictor (prosody half of the style)
                                     │    durations ─ alignment ─ F0, N
    tokens ─ text_encoder ───────────┴── aligned content ─ decoder + ISTFTNet (decoder half) ─ audio

The model knows no language: text and phonemes live in `kokoro_lab.text` and the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.config import KokoroConfig
from kokoro_lab.modules.albert import Albert
from kokoro_lab.modules.decoder import Decoder
from kokoro_lab.modules.length_regulator import (
    durations_from_logits,
    expand_to_frames,
    frame_to_token,
)
from kokoro_lab.modules.prosody import ProsodyPredictor
from kokoro_lab.modules.source import NoiseGenerator
from kokoro_lab.modules.text_encoder import TextEncoder
from kokoro_lab.modules.weight_norm import fold_weight_norm


@dataclass
class Prosody:
    """What the predictor decides: durations (b, t), F0 and energy N (b, 2f) at 300 samples a
    frame, and the aligned predictor features and frame validity needed to decode."""

    durations: Tensor
    f0: Tensor
    energy: Tensor
    frame_index: Tensor
    frame_valid: Tensor


@dataclass
class SynthesisOutput:
    """audio (b, n) zero-padded past `audio_lengths` (b,); durations (b, t); F0 / N (b, 2f),
    None under engine=onnx (its graph returns audio and durations only)."""

    audio: Tensor
    audio_lengths: Tensor
    durations: Tensor
    f0: Tensor | None
    energy: Tensor | None


class KokoroModel(nn.Module):
    """Kokoro-82M with the official component names (`bert`, `bert_encoder`, `predictor`,
    `text_encoder`, `decoder`) so official checkpoints load strictly."""

    def __init__(self, config: KokoroConfig | None = None, conv_stft: bool = False):
        super().__init__()
        cfg = config or KokoroConfig()
        self.config = cfg
        #: Run the decoder's convolutions in bfloat16 (autocast; the harmonic source and the
        #: iSTFT stay float32). A fast CPU path on bf16-capable hardware; quality cost measured
        #: in docs/benchmarks.md.
        self.bf16_decoder = False
        #: What `forward` runs instead of the torch modules when set (engine=onnx: an
        #: onnxruntime session of this model's export, acceleration/onnx_engine.py).
        self.runtime: Callable[..., SynthesisOutput] | None = None
        self.bert = Albert(cfg.albert)
        self.bert_encoder = nn.Linear(cfg.albert.hidden_size, cfg.hidden_dim)
        self.predictor = ProsodyPredictor(
            cfg.style_dim, cfg.hidden_dim, cfg.n_layer, cfg.max_dur, cfg.dropout
        )
        self.text_encoder = TextEncoder(
            cfg.hidden_dim, cfg.text_encoder_kernel_size, cfg.n_layer, cfg.n_token
        )
        self.decoder = Decoder(
            cfg.hidden_dim,
            cfg.style_dim,
            cfg.istftnet,
            cfg.decoder_channels,
            cfg.asr_res_channels,
            conv_stft=conv_stft,
        )

    # The voicepack row is [decoder half | prosody half].
    def decoder_style(self, style: Tensor) -> Tensor:
        """style (b, 2s) -> (b, s): the half that conditions the decoder and generator."""
        return style[:, : self.config.style_dim]

    def prosody_style(self, style: Tensor) -> Tensor:
        """style (b, 2s) -> (b, s): the half that conditions the prosody predictor."""
        return style[:, self.config.style_dim :]

    @property
    def samples_per_frame(self) -> int:
        return self.config.samples_per_duration_frame

    def predict_prosody(
        self,
        tokens: Tensor,
        style: Tensor,
        speed: float | Tensor = 1.0,
        valid: Tensor | None = None,
        durations: Tensor | None = None,
    ) -> tuple[Prosody, Tensor]:
        """tokens (b, t), style (b, 2s) -> Prosody and the predictor features d (b, t, c + s).

        `durations` (b, t) overrides the predicted ones (for alignment-driven training/editing).
        """
        s = self.prosody_style(style)
        bert = self.bert(tokens, valid)
        d_en = rearrange(self.bert_encoder(bert), "b t c -> b c t")
        d = self.predictor.text_encoder(d_en, s, valid)
        if durations is None:
            durations = durations_from_logits(
                self.predictor.duration_logits(d, valid), speed, valid
            )
        index, frame_valid = frame_to_token(durations)
        en = expand_to_frames(rearrange(d, "b t c -> b c t"), index)
        fv = None if valid is None else frame_valid
        f0, energy = self.predictor.f0_energy(en, s, fv)
        return Prosody(durations, f0, energy, index, frame_valid), d

    def decode(
        self,
        tokens: Tensor,
        style: Tensor,
        prosody: Prosody,
        valid: Tensor | None = None,
        generator: NoiseGenerator = None,
    ) -> Tensor:
        """Content + prosody + decoder style -> audio (b, 600 f)."""
        t_en = self.text_encoder(tokens, valid)
        asr = expand_to_frames(t_en, prosody.frame_index)
        fv = None if valid is None else prosody.frame_valid
        with torch.autocast(tokens.device.type, torch.bfloat16, enabled=self.bf16_decoder):
            audio = self.decoder(
                asr, prosody.f0, prosody.energy, self.decoder_style(style), fv, generator
            )
        return audio.float()

    def forward(
        self,
        tokens: Tensor,
        style: Tensor,
        speed: float | Tensor = 1.0,
        valid: Tensor | None = None,
        generator: NoiseGenerator = None,
    ) -> SynthesisOutput:
        """tokens (b, t) with boundary pads, style (b, 256), valid (b, t) -> SynthesisOutput.

        `valid=None` means no padding. `generator` seeds the excitation noise (one, or one per
        item for batch-independent draws); `None` uses torch's global RNG like the official code.
        Under engine=onnx (`self.runtime`) the export runs instead, its noise fixed.
        """
        if self.runtime is not None:
            return self.runtime(tokens, style, speed, valid)
        prosody, _ = self.predict_prosody(tokens, style, speed, valid)
        audio = self.decode(tokens, style, prosody, valid, generator)
        lengths = prosody.frame_valid.sum(-1) * self.samples_per_frame
        return SynthesisOutput(audio, lengths, prosody.durations, prosody.f0, prosody.energy)

    @classmethod
    def from_pretrained(cls, source: str | None = None, **kwargs) -> KokoroModel:
        """`load_model(source, ...)`: the embedded offline default when `source` is None."""
        return load_model(source, **kwargs)

    def fold_weight_norm(self) -> int:
        """Fold weight norm for fast inference (see modules/weight_norm.py)."""
        return fold_weight_norm(self)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters per top-level component and the total."""
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}
    counts["total"] = sum(counts.values())
    return counts


def load_model(
    source: str | None = None,
    config: KokoroConfig | None = None,
    device: str | torch.device = "cpu",
    conv_stft: bool = False,
    fold: bool = True,
) -> KokoroModel:
    """Build a KokoroModel and strictly load weights (see `kokoro_lab.hub.resolve_checkpoint`).

    `fold` folds weight norm for inference; training code passes fold=False (harmless either way).
    """
    from kokoro_lab.checkpoint import load_into, read_checkpoint
    from kokoro_lab.hub import resolve_checkpoint

    model = KokoroModel(config, conv_stft=conv_stft)
    load_into(model, read_checkpoint(resolve_checkpoint(source)))
    model = model.to(device).eval()
    if fold:
        model.fold_weight_norm()
    return model
