"""KokoroModel -> an fp32 ONNX file with kokoro-onnx's inputs and outputs.

Axes: t tokens (boundary pads included), n samples.

Exporter: the TorchScript-based `torch.onnx.export(..., dynamo=False)`. It traces the one path
a single utterance takes (no padding, so no data-dependent Python branches are hit), keeps every
`.shape` it meets as a graph value, and so gives a graph whose token axis is dynamic from one
example. The alignment length follows the predicted durations through Range (see graph.py).
The dynamo exporter would need `torch.export` to accept those data-dependent sizes (unbacked
symbols and guards through the model's code); the trace needs nothing but the graph wrapper.

Two repairs after the trace, both measured (tests/test_export_onnx.py):
- The exporter shares equal initializers (the many identity InstanceNorm affines) through
  Identity nodes that onnxruntime's level-1 optimizer then loses ("Node input ... is not a graph
  input"); consumers are pointed at the initializer itself and the Identity nodes dropped.
- The vocabulary goes into the `kokoro_config` metadata, where kokoro-onnx looks for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch

from kokoro_lab.io import atomic_write
from kokoro_lab.model import KokoroModel
from kokoro_lab.onnx_export.graph import INPUT_NAMES, OUTPUT_NAMES, ExportGraph
from kokoro_lab.onnx_export.noise import with_tabled_noise
from kokoro_lab.onnx_export.stft import ExportConvSTFT
from kokoro_lab.text import VOCAB

#: ai.onnx opset: 17 has every operator used (LayerNormalization, Resize linear, reflect Pad) and
#: runs on onnxruntime >= 1.13, which covers kokoro-onnx's requirement.
OPSET = 17
#: kokoro-onnx reads `{"vocab": {...}}` from this metadata key (kokoro_onnx.session.CONFIG_KEY).
CONFIG_KEY = "kokoro_config"


def reference_model(model: KokoroModel) -> KokoroModel:
    """The torch model the export is checked against: `model` with the export's noise table
    (its STFT is whatever `model` has; the default TorchSTFT is the official one)."""
    return with_tabled_noise(model).eval()


def export_graph(model: KokoroModel) -> ExportGraph:
    """A copy of `model` ready to trace: tabled noise, the conv STFT with a portable phase."""
    ref = reference_model(model)
    gen = ref.decoder.generator
    gen.stft = ExportConvSTFT(gen.n_fft, gen.hop)
    return ExportGraph(ref).eval()


def example_inputs(num_phonemes: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """tokens (1, t + 2), style (1, 256), speed (1,): any values trace the same graph."""
    ids = [0] + [VOCAB["a"]] * num_phonemes + [0]
    return torch.tensor([ids]), torch.zeros(1, 256), torch.ones(1)


def inline_initializer_identities(proto: onnx.ModelProto) -> int:
    """Drop Identity nodes that copy an initializer, pointing consumers at it; returns count."""
    graph = proto.graph
    initializers = {t.name for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    alias, kept = {}, []
    for node in graph.node:
        copies_weight = node.op_type == "Identity" and node.input[0] in initializers
        if copies_weight and node.output[0] not in outputs:
            alias[node.output[0]] = node.input[0]
        else:
            kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = alias.get(name, name)
    del graph.node[:]
    graph.node.extend(kept)
    return len(alias)


def trace_to_onnx(model: KokoroModel) -> onnx.ModelProto:
    """The model's inference path as an ONNX graph (fp32, opset OPSET, dynamic token axis)."""
    import io

    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            export_graph(model),
            example_inputs(),
            buffer,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={
                "tokens": {1: "sequence_length"},
                "audio": {0: "audio_length"},
                "duration": {0: "sequence_length"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    inline_initializer_identities(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = CONFIG_KEY, json.dumps({"vocab": VOCAB}, ensure_ascii=False)
    proto.producer_name = "kokoro_lab"
    onnx.checker.check_model(proto)
    return proto


def save_onnx(proto: onnx.ModelProto, path: str | Path) -> Path:
    """Write `proto` atomically (the file appears whole or not at all)."""
    return atomic_write(path, lambda tmp: onnx.save(proto, str(tmp)))
