"""Per-shape micro-benchmark: F.conv1d (oneDNN float32) against the FFT route and the int8
convolution, on the generator's shapes at a sentence's length, on the machine at hand.

Axes: c channels, t steps, k taps, d dilation.

For each shape the FFT route is timed at every block length (its weight spectrum precomputed, as
a module would keep it) and its best block is reported; int8 includes the per-call activation
quantization. Each candidate runs interleaved with F.conv1d (A, B, A, B, ...) and the medians
are compared, so other load on the machine hits both alike. The answer (win or not, per shape
and capability) goes to docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from kokoro_lab.acceleration.cpu_features import cpu_features
from kokoro_lab.acceleration.fft_conv import fft_conv1d, weight_spectrum
from kokoro_lab.acceleration.int8_conv import Int8Conv1d

#: (channels, steps): the generator's two stages for a ~2 s sentence (80 frames x 10 and x 60,
#: the last stage padded by one step).
STAGES = ((256, 2000), (128, 12001))
KERNELS = (3, 7, 11)
DILATIONS = (1, 3, 5)
BLOCKS = (128, 256, 512, 1024)


def _paired(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median seconds of fn_a and fn_b, run alternately after one warm-up each."""
    fn_a(), fn_b()
    a, b = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fn_a()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn_b()
        b.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def measure_shape(channels: int, steps: int, k: int, d: int, repeats: int) -> dict:
    """One shape: conv1d's time, the FFT route's at its best block, int8's."""
    torch.manual_seed(0)
    x = torch.randn(1, channels, steps)
    w = torch.randn(channels, channels, k) / (channels * k) ** 0.5
    b = torch.randn(channels)
    pad = d * (k - 1) // 2
    span = d * (k - 1) + 1

    def direct():
        return F.conv1d(x, w, b, padding=pad, dilation=d)

    row = {"channels": channels, "steps": steps, "kernel": k, "dilation": d}
    fft = {}
    for block in BLOCKS:
        if block < 2 * span:
            continue
        spectrum = weight_spectrum(w, d, block)
        t_direct, t_fft = _paired(
            direct, lambda s=spectrum, n=block: fft_conv1d(x, w, b, pad, d, n, s), repeats
        )
        fft[block] = t_direct / t_fft
    best = max(fft, key=fft.get)
    conv = torch.nn.Conv1d(channels, channels, k, padding=pad, dilation=d)
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(b)
    q = Int8Conv1d.from_conv(conv)
    t_direct, t_int8 = _paired(direct, lambda: q(x), repeats)
    return {
        **row,
        "conv1d_ms": 1e3 * t_direct,
        "fft_speedup_by_block": fft,
        "fft_best_block": best,
        "fft_speedup": fft[best],
        "int8_speedup": t_direct / t_int8,
    }


def measure_fast_conv(threads: int = 2, repeats: int = 5) -> dict:
    """Every generator shape -> {machine facts, rows}; run under torch.inference_mode."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            rows = [
                measure_shape(c, t, k, d, repeats)
                for c, t in STAGES
                for k in KERNELS
                for d in DILATIONS
            ]
    finally:
        torch.set_num_threads(before)
    return {"cpu": cpu_features().as_dict(), "threads": threads, "repeats": repeats, "rows": rows}


def render_rows(result: dict) -> str:
    """The rows as a markdown table."""
    lines = [
        "| channels x steps | kernel | dilation | conv1d (ms) | FFT best block | FFT speedup "
        "| int8 speedup |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['channels']} x {r['steps']} | {r['kernel']} | {r['dilation']} | "
            f"{r['conv1d_ms']:.1f} | {r['fft_best_block']} | {r['fft_speedup']:.2f} | "
            f"{r['int8_speedup']:.2f} |"
        )
    return "\n".join(lines) + "\n"
