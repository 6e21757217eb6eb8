"""Inference engines: how a loaded model multiplies, chosen by name and by what the CPU has.

- `exact` (the default): float32, the model as loaded. `seed=0` gives the same audio bit for bit
  on a machine whatever its CPU flags.
- `int8`: the generator's residual and source blocks in int8 (acceleration/int8_model.py);
  durations identical to `exact` (the predictor stays float32), audio within about 1.5% per
  convolution (lossy: Whisper WER measured in docs/benchmarks.md).
- `bf16`: the decoder's convolutions under bfloat16 autocast (harmonic source and iSTFT float32);
  only where oneDNN has bf16 kernels and the CPU bf16 units (cpu_features.CpuFeatures.bf16).
- `onnx`: onnxruntime on this project's int8 ONNX export of the loaded weights (made once per set
  of weights and cached: acceleration/onnx_engine.py); durations identical to `exact`, the audio
  int8-lossy and its excitation noise fixed (the same audio whatever the seed).
- `fastest`: the lossy path measured fastest for this kind of CPU that keeps WER within one point
  of float32 (FASTEST_TABLE, written by the benchmark's full runs); for a kind not measured, `int8`
  where the CPU has an int8 dot-product unit (VNNI/AMX) and `exact` otherwise.

Any of exact, int8 and bf16 can also run with its generator under torch.compile (`compile=true`
in the scripts: acceleration/compiled.py), a cost paid once per process (less with Inductor's
cache) that pays back on long texts, corpora and servers.

`apply_engine` changes the model in place and returns the engine it resolved to, which the
caller prints: `fastest` says what it chose.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from kokoro_lab.acceleration.cpu_features import CpuFeatures, cpu_features
from kokoro_lab.errors import UserValueError

log = logging.getLogger(__name__)

ENGINES = ("exact", "int8", "bf16", "onnx", "fastest")

#: CPU kind (CpuFeatures.kind) -> {"engine": the engine measured fastest there with WER within
#: one point of float32, and the run that measured it}: written by a full CPU run of
#: scripts/benchmark.py (kokoro_lab/tasks/benchmark.py record_fastest), shipped in the package.
FASTEST_TABLE = Path(__file__).with_name("fastest_engines.json")


def measured_fastest() -> dict[str, str]:
    """FASTEST_TABLE as CPU kind -> engine."""
    table = json.loads(FASTEST_TABLE.read_text(encoding="utf-8"))
    return {kind: row["engine"] for kind, row in table.items()}


def fastest_engine(features: CpuFeatures) -> str:
    """The engine `fastest` resolves to on a CPU with `features` (see the module docstring)."""
    measured = measured_fastest()
    if features.kind in measured:
        return measured[features.kind]
    return "int8" if features.int8_dot else "exact"


def check_engine(name: str, features: CpuFeatures | None = None) -> str:
    """`name` resolved for this CPU (`fastest` -> a concrete engine); a UserValueError for an
    unknown name or `bf16` on a CPU without bf16 units."""
    features = features or cpu_features()
    if name not in ENGINES:
        raise UserValueError(f"unknown engine={name!r}: choose one of {', '.join(ENGINES)}")
    if name == "fastest":
        return fastest_engine(features)
    if name == "bf16" and not features.bf16:
        raise UserValueError(
            "engine=bf16 needs a CPU with bfloat16 units (avx512_bf16 or AMX) and oneDNN bf16 "
            f"kernels; this one has {', '.join(features.flags) or 'none of those flags'}: "
            "use engine=int8 or engine=exact"
        )
    return name


def require_cpu(name: str, device: str) -> None:
    """A UserValueError when engine `name` (not exact) would run on a `device` that is not the
    CPU (the int8 and bf16 paths are oneDNN's, onnx is onnxruntime's CPU provider)."""
    if name != "exact" and not str(device).startswith("cpu"):
        raise UserValueError(
            f"engine={name} is a CPU path; on {device} use engine=exact (the default), or "
            "device=cpu"
        )


def apply_engine(
    model: nn.Module, name: str, features: CpuFeatures | None = None, compile: bool = False
) -> str:
    """Make `model` (a KokoroModel with weight norm folded) run as engine `name`, in place;
    returns the engine used (`fastest` resolved). `compile`: the generator under torch.compile
    as well (acceleration/compiled.py: 35-45 s of compilation on 2 cores, ~20 s in a later
    process; not with onnx, which does not run the torch generator)."""
    from kokoro_lab.acceleration.int8_model import quantize_decoder

    resolved = check_engine(name, features)
    require_cpu(resolved, next(model.parameters()).device.type)
    if compile and resolved == "onnx":
        raise UserValueError(
            "compile=true compiles the torch generator, which engine=onnx does not run: use "
            "engine=onnx without compile, or compile=true with engine=exact, int8 or bf16"
        )
    if resolved == "int8":
        quantize_decoder(model)
    if resolved == "onnx":
        from kokoro_lab.acceleration.onnx_engine import OnnxForward, cached_int8_export

        path = cached_int8_export(model)
        model.runtime = OnnxForward(path, torch.get_num_threads())
    model.bf16_decoder = resolved == "bf16"
    if compile:
        from kokoro_lab.acceleration.compiled import compile_generator

        compile_generator(model)
    if name == "fastest":
        # scripts print it too: which engine `fastest` chose is part of the result
        log.info("engine=fastest on this %s CPU: %s", (features or cpu_features()).kind, resolved)
    return resolved
