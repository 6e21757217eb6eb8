"""A model whose heavy convolutions run in int8 (acceleration/int8_conv.py).

Which convolutions: the ISTFTNet generator's residual blocks (`resblocks`, AdaIN + Snake + two
dilated convolutions per branch, 128-256 channels at 10-60 steps per frame: most of the
multiply-adds) and the harmonic source's residual blocks (`noise_res`), optionally also the
decoder's frame-rate blocks (`encode`, `decode`: 1024 channels, kernel 3). The upsampling
(transposed) convolutions, `conv_post` (its output is the log-magnitude and phase: its error
is heard directly), the noise convolutions and the 1x1 / single-channel convolutions stay
float32. The text encoder, BERT and prosody predictor are untouched, so durations are exactly
the float32 model's.
"""

from __future__ import annotations

from torch import nn

from kokoro_lab.acceleration.int8_conv import Int8Conv1d
from kokoro_lab.modules.weight_norm import WNConv1d

#: Decoder parts converted by default / with `decoder_blocks=True`.
GENERATOR_PARTS = ("resblocks", "noise_res")
DECODER_PARTS = ("encode", "decode")


def _swap_convs(module: nn.Module) -> int:
    """Replace every WNConv1d / nn.Conv1d below `module` with kernel > 1 by an Int8Conv1d;
    returns how many."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, (WNConv1d, nn.Conv1d)) and child.groups == 1:
            kernel = (
                child.weight_v.shape[-1] if isinstance(child, WNConv1d) else child.kernel_size[0]
            )
            if kernel > 1:
                setattr(module, name, Int8Conv1d.from_conv(child))
                count += 1
                continue
        count += _swap_convs(child)
    return count


def quantize_decoder(model: nn.Module, decoder_blocks: bool = False) -> int:
    """Convert `model`'s generator residual blocks (and with `decoder_blocks` its encode/decode
    blocks) to int8 convolutions, in place; returns how many convolutions were converted.
    Weight norm must be folded first (KokoroModel.for_inference does it)."""
    decoder = model.decoder
    parts = [getattr(decoder.generator, p) for p in GENERATOR_PARTS]
    if decoder_blocks:
        parts += [getattr(decoder, p) for p in DECODER_PARTS]
    return sum(_swap_convs(p) for p in parts)
