"""The engines a benchmark compares, each behind one call: phoneme strings -> audio arrays.

Axes: b batch (utterances), n samples.
- kokoro_lab: our KokoroModel (fp32; bf16 decoder on CPUs with bf16 units), batch size B.
- kmodel: hexgrad's official `kokoro.KModel` (0.9.4) on the same weights, one utterance at a time
  as its users run it; optionally under torch.compile.
- ort_int8: onnxruntime on the kokoro-onnx int8 file (the embedded weights' source).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from kokoro_lab.text import VOCAB, model_input_ids

Synth = Callable[[list[str], list[np.ndarray]], list[np.ndarray]]


def kokoro_lab_engine(batch_size: int = 1, bf16: bool = False, compile: bool = False) -> Synth:
    from kokoro_lab.model import load_model
    from kokoro_lab.modules.masking import lengths_to_valid

    model = load_model()
    model.bf16_decoder = bf16
    if compile:
        model.decoder.generator = torch.compile(model.decoder.generator, dynamic=True)

    def run_batch(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        ids = [model_input_ids(ps) for ps in phonemes]
        gens = [torch.Generator().manual_seed(i) for i in range(len(ids))]
        style = torch.from_numpy(np.concatenate(styles))
        with torch.inference_mode():
            if len(ids) == 1:
                out = model(torch.tensor(ids), style, generator=gens[0])
                return [out.audio[0].numpy()]
            lengths = torch.tensor([len(x) for x in ids])
            tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
            for b, x in enumerate(ids):
                tokens[b, : len(x)] = torch.tensor(x)
            out = model(tokens, style, valid=lengths_to_valid(lengths), generator=gens)
            return [out.audio[b, : int(n)].numpy() for b, n in enumerate(out.audio_lengths)]

    def synth(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        audio = []
        for i in range(0, len(phonemes), batch_size):
            audio += run_batch(phonemes[i : i + batch_size], styles[i : i + batch_size])
        return audio

    return synth


def kmodel_engine(compile: bool = False) -> Synth:
    import sys
    from pathlib import Path

    from kokoro_lab.hub import embedded_checkpoint_path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from reference_kokoro import build_kmodel

    kmodel = build_kmodel(str(embedded_checkpoint_path()), VOCAB)
    forward = kmodel.forward_with_tokens
    if compile:
        forward = torch.compile(forward, dynamic=True)

    def synth(phonemes: list[str], styles: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for ps, st in zip(phonemes, styles):
            audio, _ = forward(torch.tensor([model_input_ids(ps)]), torch.from_numpy(st), 1.0)
            out.append(audio.numpy())
        return out

    return synth


def ort_engine(threads: int) -> Synth:
    import onnxruntime as ort

    from kokoro_lab.hub import embedded_onnx_path

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(embedded_onnx_path()), opts, ["CPUExecutionProvider"])

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


ENGINES = {
    "kokoro_lab_fp32": lambda cfg: kokoro_lab_engine(1),
    "kokoro_lab_batch4": lambda cfg: kokoro_lab_engine(4),
    "kokoro_lab_batch16": lambda cfg: kokoro_lab_engine(16),
    "kokoro_lab_bf16": lambda cfg: kokoro_lab_engine(1, bf16=True),
    "kmodel": lambda cfg: kmodel_engine(),
    "kmodel_tuned_alloc": lambda cfg: kmodel_engine(),
    "kmodel_compile": lambda cfg: kmodel_engine(compile=True),
    "ort_int8": lambda cfg: ort_engine(cfg["threads"]),
}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out
