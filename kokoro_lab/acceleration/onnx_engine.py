"""engine=onnx: onnxruntime on this project's int8 ONNX export of the loaded weights.

Axes: b batch, t tokens (boundary pads included), n samples.

The export (kokoro_lab/onnx_export: the float32 duration path, static int8 generator
convolutions, the model's loudness) is made once per set of weights and cached as
`$KOKORO_LAB_CACHE/onnx/<key>/kokoro.int8.onnx`, its SHA-256 beside it and re-verified on every
load (a truncated or edited file is exported anew). The key hashes the weights, the model config
and the versions of what makes the file (EXPORT_VERSION, torch, onnxruntime), so another
checkpoint or an upgrade never picks up a stale file.

`OnnxForward` is what `KokoroModel.forward` runs when the engine is applied: one utterance per
session call (a padded batch is split by its `valid` mask). What differs from `exact`:
- durations are the same numbers (the duration path stays float32 in the graph);
- the audio is int8-lossy (Whisper WER in docs/benchmarks.md) and its excitation noise is the
  export's fixed table (onnx_export/noise.py), so `seed` does not change it: the same text gives
  the same audio on every call;
- F0 and energy are not returned (the graph's outputs are kokoro-onnx's: audio and durations).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kokoro_lab.io import cached_build

log = logging.getLogger(__name__)

#: Bump when the export changes what it writes, so cached files are made anew.
EXPORT_VERSION = 1


def export_key(model: torch.nn.Module) -> str:
    """A hex digest of what the export depends on: weights, config, exporter versions."""
    import onnxruntime

    digest = hashlib.sha256()
    meta = f"{EXPORT_VERSION}|{torch.__version__}|{onnxruntime.__version__}|{model.config!r}"
    digest.update(meta.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_int8_export(model: torch.nn.Module) -> Path:
    """The int8 export of `model`'s weights from the cache, exported there first if missing."""
    from kokoro_lab.hub import cache_dir
    from kokoro_lab.onnx_export.export import save_onnx, trace_to_onnx
    from kokoro_lab.onnx_export.quantize import write_int8
    from kokoro_lab.onnx_export.task import FP32_NAME, INT8_NAME

    folder = cache_dir() / "onnx" / export_key(model)[:20]
    path = folder / INT8_NAME

    def export() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        log.info("engine=onnx: exporting these weights once (about 30 s); cached in %s", folder)
        with tempfile.TemporaryDirectory(prefix="fp32_", dir=folder) as tmp:
            write_int8(save_onnx(trace_to_onnx(model), Path(tmp) / FP32_NAME), path)

    return cached_build(path, folder / f"{INT8_NAME}.sha256", export, "ONNX export")


class OnnxForward:
    """tokens (b, t), style (b, 256), speed, valid (b, t) | None -> SynthesisOutput, on an
    onnxruntime CPU session of an exported file with kokoro-onnx's interface."""

    def __init__(self, path: str | Path, threads: int):
        from kokoro_lab.onnx_export.verify import ort_session

        self.path = Path(path)
        self.session = ort_session(path, threads)

    def run_one(self, tokens: Tensor, style: Tensor, speed: float) -> tuple[Tensor, Tensor]:
        """tokens (t,), style (256,) -> audio (n,), durations (t,)."""
        feeds = {
            "tokens": tokens.cpu().numpy().astype(np.int64)[None],
            "style": style.detach().cpu().float().numpy()[None],
            "speed": np.array([speed], dtype=np.float32),
        }
        audio, durations = self.session.run(None, feeds)
        return torch.from_numpy(audio), torch.from_numpy(durations)

    def __call__(
        self,
        tokens: Tensor,
        style: Tensor,
        speed: float | Tensor = 1.0,
        valid: Tensor | None = None,
    ):
        from kokoro_lab.model import SynthesisOutput

        speed = float(speed)
        counts = (
            [tokens.shape[1]] * tokens.shape[0]
            if valid is None
            else [int(n) for n in valid.sum(-1)]
        )
        runs = [self.run_one(tokens[b, :n], style[b], speed) for b, n in enumerate(counts)]
        lengths = torch.tensor([a.shape[0] for a, _ in runs])
        audio = torch.zeros(len(runs), int(lengths.max()))
        durations = torch.zeros(tokens.shape, dtype=torch.long)
        for b, (a, d) in enumerate(runs):
            audio[b, : a.shape[0]] = a
            durations[b, : d.shape[0]] = d
        return SynthesisOutput(audio, lengths, durations, None, None)


def main(argv: list[str] | None = None) -> None:
    """`python -m kokoro_lab.acceleration.onnx_engine [CHECKPOINT]`: make sure the cache holds
    the export of CHECKPOINT (default: the embedded weights) and print its path."""
    import argparse

    from kokoro_lab.model import load_model

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", nargs="?", default=None)
    args = parser.parse_args(argv)
    print(cached_int8_export(load_model(args.checkpoint)))


if __name__ == "__main__":
    main()
