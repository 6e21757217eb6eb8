"""Architectural sizes of Kokoro-82M as one frozen dataclass, mirrored by configs/model/*.yaml.

The official v1.0 `config.json` of hexgrad/Kokoro-82M gives these numbers; `KokoroConfig()` with
no arguments is exactly that model. Audio constants that follow from the sizes are properties.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

SAMPLE_RATE = 24_000
#: Tokens the PL-BERT position table holds (512) minus the two boundary pads.
CONTEXT_LENGTH = 510


@dataclass(frozen=True)
class AlbertConfig:
    """PL-BERT (ALBERT) sizes: one shared transformer layer applied `num_hidden_layers` times."""

    vocab_size: int = 178
    embedding_size: int = 128
    hidden_size: int = 768
    num_attention_heads: int = 12
    intermediate_size: int = 2048
    max_position_embeddings: int = 512
    num_hidden_layers: int = 12
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12


@dataclass(frozen=True)
class ISTFTNetConfig:
    """ISTFTNet generator sizes: two transposed-conv upsamplers then an inverse STFT."""

    upsample_rates: tuple[int, ...] = (10, 6)
    upsample_kernel_sizes: tuple[int, ...] = (20, 12)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    # one tuple of dilations (ints) per resblock kernel; `Any` because OmegaConf (this class is
    # the model's config schema, kokoro_lab.schemas.model) cannot type a tuple of tuples
    resblock_dilation_sizes: tuple[Any, ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    gen_istft_n_fft: int = 20
    gen_istft_hop_size: int = 5
    harmonic_num: int = 8
    voiced_threshold: float = 10.0


@dataclass(frozen=True)
class KokoroConfig:
    """Whole-model sizes. `style_dim` is one half of a voicepack row (the row is 2 * style_dim)."""

    n_token: int = 178
    hidden_dim: int = 512
    style_dim: int = 128
    n_layer: int = 3
    max_dur: int = 50
    dropout: float = 0.2
    text_encoder_kernel_size: int = 5
    decoder_channels: int = 1024
    asr_res_channels: int = 64
    albert: AlbertConfig = field(default_factory=AlbertConfig)
    istftnet: ISTFTNetConfig = field(default_factory=ISTFTNetConfig)

    @property
    def samples_per_generator_frame(self) -> int:
        """Audio samples per decoder output frame (prod(upsample_rates) * iSTFT hop = 300)."""
        return math.prod(self.istftnet.upsample_rates) * self.istftnet.gen_istft_hop_size

    @property
    def samples_per_duration_frame(self) -> int:
        """Samples per predicted duration frame: the decoder upsamples 2x, then the generator."""
        return 2 * self.samples_per_generator_frame

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> KokoroConfig:
        """Build from a plain dict (e.g. a Hydra/OmegaConf node converted with to_container)."""
        d = dict(d)
        d.pop("_target_", None)
        albert = AlbertConfig(**d.pop("albert", {}))
        ist = dict(d.pop("istftnet", {}))
        for key in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if key in ist:
                ist[key] = tuple(ist[key])
        if "resblock_dilation_sizes" in ist:
            ist["resblock_dilation_sizes"] = tuple(tuple(x) for x in ist["resblock_dilation_sizes"])
        return cls(albert=albert, istftnet=ISTFTNetConfig(**ist), **d)


#: Samples per predicted duration frame of the official sizes: 600 (25 ms at 24 kHz).
SAMPLES_PER_FRAME = KokoroConfig().samples_per_duration_frame
