"""The engines a benchmark compares, each behind one call: phoneme strings -> audio arrays.

Axes: b batch (utterances), n samples.
- kokoro_lab: our KokoroModel as one of its inference engines (kokoro_lab/acceleration/engine.py:
  `exact` float32, `int8` generator convolutions, `bf16` decoder on CPUs with bf16 units),
  batch size B, optionally with the generator under torch.compile.
- kmodel: hexgrad's official `kokoro.KModel` (0.9.4) on the same weights, one utterance at a time
  as its users run it; optionally under torch.compile.
- ort_int8: onnxruntime on the kokoro-onnx int8 file (the embedded weights' source).
- kokoro_lab_onnx: our model as engine=onnx (onnxruntime on our int8 export, through the model's
  forward as the pipeline calls it).
- ort_export_int8: onnxruntime on our own int8 export of the same weights (kokoro_lab/onnx_export,
  the file engine=onnx caches), called directly as kokoro-onnx users call a session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import numpy as np
import torch

from kokoro_lab.errors import UserValueError
from kokoro_lab.text import VOCAB, model_input_ids

Synth = Callable[[list[str], list[np.ndarray]], list[np.ndarray]]

#: Benchmark engine name -> our inference engine (the rest are batch sizes and compilation).
OUR_ENGINES = {
    "kokoro_lab_fp32": "exact",
    "kokoro_lab_compile": "exact",
    "kokoro_lab_int8": "int8",
    "kokoro_lab_int8_compile": "int8",
    "kokoro_lab_bf16": "bf16",
    "kokoro_lab_onnx": "onnx",
}


def kokoro_lab_engine(
    batch_size: int = 1, engine: str = "exact", compile: bool = False, device: str = "cpu"
) -> Synth:
    from kokoro_lab.acceleration.engine import apply_engine
    from kokoro_lab.model import load_model
    from kokoro_lab.modules.masking import lengths_to_valid

    model = load_model(device=device)
    apply_engine(model, engine)
    if compile:
        from kokoro_lab.acceleration.compiled import compile_generator

        compile_generator(model)

    def run_batch(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        ids = [model_input_ids(ps) for ps in phonemes]
        gens = [torch.Generator(device).manual_seed(i) for i in range(len(ids))]
        style = torch.from_numpy(np.concatenate(styles)).to(device)
        with torch.inference_mode():
            if len(ids) == 1:
                out = model(torch.tensor(ids, device=device), style, generator=gens[0])
                return [out.audio[0].cpu().numpy()]
            lengths = torch.tensor([len(x) for x in ids])
            tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
            for b, x in enumerate(ids):
                tokens[b, : len(x)] = torch.tensor(x)
            valid = lengths_to_valid(lengths).to(device)
            out = model(tokens.to(device), style, valid=valid, generator=gens)
            audio = out.audio.cpu()
            return [audio[b, : int(n)].numpy() for b, n in enumerate(out.audio_lengths)]

    def synth(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        audio = []
        for i in range(0, len(phonemes), batch_size):
            audio += run_batch(phonemes[i : i + batch_size], styles[i : i + batch_size])
        return audio

    return synth


def kmodel_engine(compile: bool = False, device: str = "cpu") -> Synth:
    import sys
    from pathlib import Path

    from kokoro_lab.hub import embedded_checkpoint_path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from reference_kokoro import build_kmodel

    kmodel = build_kmodel(str(embedded_checkpoint_path()), VOCAB).to(device)
    forward = kmodel.forward_with_tokens
    if compile:
        forward = torch.compile(forward, dynamic=True)

    def synth(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for ps, st in zip(phonemes, styles):
            tokens = torch.tensor([model_input_ids(ps)], device=device)
            audio, _ = forward(tokens, torch.from_numpy(st).to(device), 1.0)
            out.append(audio.cpu().numpy())
        return out

    return synth


def ort_engine(threads: int, path: str | None = None) -> Synth:
    """onnxruntime on an ONNX file with kokoro-onnx's inputs (default: its int8 file)."""
    import onnxruntime as ort

    from kokoro_lab.hub import embedded_onnx_path

    path = path or str(embedded_onnx_path())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, ["CPUExecutionProvider"])

    def synth(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for ps, st in zip(phonemes, styles):
            feeds = {
                "tokens": np.array([model_input_ids(ps)], dtype=np.int64),
                "style": st.astype(np.float32),
                "speed": np.ones(1, dtype=np.float32),
            }
            out.append(sess.run(None, feeds)[0])
        return out

    return synth


def make_engine(name: str, cfg: dict) -> Synth:
    """`kokoro_lab_fp32`, `kokoro_lab_int8`, `kokoro_lab_bf16`, `kokoro_lab_batchB` (any B),
    `kokoro_lab_compile`,
    `kmodel`, `kmodel_tuned_alloc` (the allocator is set by the parent), `kmodel_compile`,
    `ort_int8`, `ort_export_int8` (CPU only; the latter needs cfg["onnx_export_int8"])."""
    device = cfg.get("device", "cpu")
    if m := re.fullmatch(r"kokoro_lab_batch(\d+)", name):
        return kokoro_lab_engine(int(m.group(1)), device=device)
    table = {
        name: lambda name=name: kokoro_lab_engine(
            1, OUR_ENGINES[name], compile=name.endswith("compile"), device=device
        )
        for name in OUR_ENGINES
    } | {
        "kmodel": lambda: kmodel_engine(device=device),
        "kmodel_tuned_alloc": lambda: kmodel_engine(device=device),
        "kmodel_compile": lambda: kmodel_engine(compile=True, device=device),
        "ort_int8": lambda: ort_engine(cfg["threads"]),
        "ort_export_int8": lambda: ort_engine(cfg["threads"], cfg["onnx_export_int8"]),
    }
    if name not in table:
        raise UserValueError(
            f"unknown engine {name!r}; known: {sorted(table)} and kokoro_lab_batchB"
        )
    return table[name]()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out
