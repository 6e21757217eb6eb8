"""The generator under torch.compile: Inductor fuses the glue between its convolutions.

Axes: b batch, c channels, f frames, n samples.

What is compiled: `Generator.synthesize` (features + source spectrum -> audio), the generator's
deterministic part, as one graph with dynamic lengths. The harmonic source, whose noise comes
from a seeded `torch.Generator`, stays eager (random draws would break the graph), so a seed gives
the same noise as the eager model. Weight norm must be folded (KokoroModel.for_inference) and the
weights loaded before compiling: a compiled module is treated as frozen.

With `channels_last` (the default), the generator's float convolutions
become `ChannelsLastConv1d` (acceleration/channels_last.py): oneDNN's channels-last kernels, and
the Snake / AdaIN / residual glue Inductor fuses between them stays in that layout. The audio then
differs from eager float32 by float rounding (max |diff| ~1e-5 measured), durations not at all
(the predictor is not compiled).

Compilation costs about a minute on two cores the first time; Inductor's FX graph cache (on by
default, under $TORCHINDUCTOR_CACHE_DIR) lets a later process load the compiled code instead
(the benchmark reports both).
"""

from __future__ import annotations

import torch
from torch import nn

from kokoro_lab.acceleration.channels_last import to_channels_last


def compile_generator(model: nn.Module, channels_last: bool = True) -> None:
    """Compile `model.decoder.generator.synthesize` in place (dynamic lengths).

    `channels_last`: run the generator's float convolutions channels-last (engine=int8's
    convolutions already write that layout).
    """
    generator = model.decoder.generator
    if channels_last:
        to_channels_last(generator)
    generator.synthesize = torch.compile(generator.synthesize, dynamic=True)
