"""`configs/benchmark.yaml`'s schema: the keys of `scripts/benchmark.py`.

python scripts/benchmark.py [quick=true] [device=cpu]
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _cpu_engines() -> list[str]:
    # kokoro_lab_bf16 (bf16 decoder) pays off only on CPUs with bf16 units (avx512_bf16, AMX); on
    # AVX2 it is ~50x slower (measured), so the task adds it only where the CPU has them
    # (kokoro_lab/acceleration/cpu_features.py).
    return [
        "kokoro_lab_fp32",
        "kokoro_lab_int8",
        "kokoro_lab_onnx",
        "kokoro_lab_compile",
        "kokoro_lab_int8_compile",
        "kokoro_lab_batch4",
        "kokoro_lab_batch16",
        "kmodel",
        "kmodel_tuned_alloc",
        "kmodel_compile",
        "ort_int8",
        "ort_export_int8",
    ]


@dataclass
class BenchmarkConfig:
    engines: list[str] = field(default_factory=_cpu_engines)
    voices: list[str] = field(default_factory=lambda: ["jf_alpha", "jm_kumo"])
    threads: int = 2
    device: str = "cpu"  # cuda: kokoro_lab at B = gpu_batch_sizes and KModel
    gpu_batch_sizes: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64])
    num_sentences: int = 8
    repeats: int = 5
    warmup: int = 2
    quick: bool = False
    quick_sentences: int = 3
    quick_repeats: int = 3
    long_text_chars: int = 2000
    join_chars: int = 1200  # streamed whole to measure the chunk joins (quick: quick_join_chars)
    quick_join_chars: int = 400
    quality: bool = True
    # Whisper WER of every engine (exact, int8, bf16) on this many Harvard sentences: 100 resolve
    # a one-point change (quick: quick_quality_sentences, too few for that, and the table says so)
    quality_sentences: int = 100
    quick_quality_sentences: int = 10
    # quick=true leaves out engines compiled with torch.compile (minutes of compilation alone)
    quick_skips_compile: bool = True
    timeout_s: int = 1800
    output_dir: str = "docs"
    # set by the command: its overrides, recorded in docs/benchmark.json
    argv: list[str] = field(default_factory=list)
