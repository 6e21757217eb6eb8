"""The generator under torch.compile: Inductor fuses the glue between its convolutions.

Axes: b batch, c channels, f frames, n samples.

What is compiled: `Generator.synthesize` (features + source spectrum -> audio), the generator's
deterministic part, as one graph with dynamic lengths. The harmonic source, whose noise comes
from a seeded `torch.Generator`, stays eager (random draws would break the graph), so a seed gives
the same noise as the eager model. Weight norm must be folded (KokoroModel.for_inference) and the
weights loaded before compiling: a compiled module is treated as frozen.

The generator's float convolutions become `ChannelsLastConv1d` (acceleration/channels_last.py):
oneDNN's channels-last kernels, and the Snake / AdaIN / residual glue Inductor fuses between them
stays in that layout. The audio then
differs from eager float32 by float rounding (max |diff| ~1e-5 measured), durations not at all
(the predictor is not compiled).

Compilation takes 35-45 s on two cores the first time; Inductor's FX graph cache (on by default,
under $TORCHINDUCTOR_CACHE_DIR) lets a later process load the compiled code instead, which still
pays ~20 s for Dynamo to trace the graph (the benchmark reports both).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kokoro_lab.acceleration.channels_last import to_channels_last


def compile_generator(model: nn.Module) -> None:
    """Compile `model.decoder.generator.synthesize` in place (dynamic lengths), its float
    convolutions channels-last (engine=int8's convolutions already write that layout)."""
    generator = model.decoder.generator
    to_channels_last(generator)
    compiled = torch.compile(generator.synthesize, dynamic=True)

    def synthesize(x: Tensor, style: Tensor, har: Tensor, valid: Tensor | None = None) -> Tensor:
        # Dynamo guards on a view's base and on whether a tensor was made in inference mode,
        # which differ with where the caller's style row came from: a fresh (b, s) copy compiles
        # once for all of them.
        return compiled(x, style.clone(), har, valid)

    generator.synthesize = synthesize


def warm_up(model: nn.Module, phonemes: str = "wˈɔɹm ˈʌp.") -> None:
    """Compile now rather than on the first real request: one whole-model call on a short
    utterance, the way requests come. The eager parts run first, so the state Dynamo
    guards on (einops' backend table) is what later calls see; later lengths reuse the compiled
    code (dynamic shapes)."""
    from kokoro_lab.text import model_input_ids

    device = next(model.parameters()).device
    tokens = torch.tensor([model_input_ids(phonemes)], device=device)
    style = torch.zeros(1, 2 * model.config.style_dim, device=device)
    with torch.inference_mode():
        model(tokens, style, generator=torch.Generator(device).manual_seed(0))
