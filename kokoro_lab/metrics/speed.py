"""Synthesis speed and memory: real-time factor and peak memory of a block of code.

    rtf = wall-clock seconds of synthesis / seconds of audio produced     (< 1: faster than
                                                                            real time)
Peak memory is the highest resident set size (RSS, psutil) seen while the block ran, sampled by
a background thread every `poll_s` seconds, minus the RSS at entry: the extra host memory the
block needed (allocations shorter than one poll interval can be missed). When CUDA is in use
(torch already imported and a GPU present), `peak_cuda_bytes` is torch's peak allocated device
memory during the block, and the timer synchronizes the device before reading the clock.
Axes: n samples.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kokoro_lab.audio.checks import check_rate
from kokoro_lab.errors import UserValueError


@dataclass(frozen=True)
class SpeedReport:
    """One timed synthesis: wall seconds, audio seconds, their ratio and peak memory."""

    wall_s: float
    audio_s: float
    rtf: float
    peak_rss_bytes: int
    peak_cuda_bytes: int | None = None


def _cuda():
    """torch.cuda when torch is already loaded and a GPU is present, else None (never imports
    torch itself: timing a NumPy synthesizer must not pay for it)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda
    return None


class SpeedMeter:
    """Context manager timing a block and tracking its peak memory.

    with SpeedMeter() as meter:
        audio = synthesize(text)
    report = meter.report(audio_s=len(audio) / SAMPLE_RATE)
    """

    def __init__(self, poll_s: float = 0.002):
        if poll_s <= 0:
            raise UserValueError(f"poll_s must be > 0 seconds, got {poll_s}")
        self.poll_s = poll_s
        self.wall_s: float | None = None
        self.peak_rss_bytes: int | None = None
        self.peak_cuda_bytes: int | None = None
        self._stop = threading.Event()

    def _poll(self, process, baseline: int) -> None:
        peak = baseline
        while not self._stop.wait(self.poll_s):
            peak = max(peak, process.memory_info().rss)
        self._peak = max(peak, process.memory_info().rss)

    def __enter__(self) -> SpeedMeter:
        try:
            import psutil
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError(
                "SpeedMeter reads the resident set size with psutil: pip install psutil"
            ) from e

        process = psutil.Process()
        self._baseline = process.memory_info().rss
        self._peak = self._baseline
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._poll, args=(process, self._baseline), daemon=True
        )
        self._thread.start()
        cuda = _cuda()
        if cuda is not None:
            cuda.synchronize()
            cuda.reset_peak_memory_stats()
            self._cuda_baseline = cuda.memory_allocated()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        cuda = _cuda()
        if cuda is not None:
            cuda.synchronize()
        self.wall_s = time.perf_counter() - self._start
        self._stop.set()
        self._thread.join()
        self.peak_rss_bytes = max(0, self._peak - self._baseline)
        if cuda is not None:
            self.peak_cuda_bytes = max(0, cuda.max_memory_allocated() - self._cuda_baseline)

    def report(self, audio_s: float) -> SpeedReport:
        """Seconds of audio the block produced -> SpeedReport."""
        if self.wall_s is None:
            raise UserValueError("report() is only available after the `with SpeedMeter()` block")
        if audio_s <= 0:
            raise UserValueError(f"audio_s must be > 0 seconds, got {audio_s}")
        return SpeedReport(
            wall_s=self.wall_s,
            audio_s=audio_s,
            rtf=self.wall_s / audio_s,
            peak_rss_bytes=self.peak_rss_bytes,
            peak_cuda_bytes=self.peak_cuda_bytes,
        )


def measure_speed(
    synthesize: Callable[[], np.ndarray], sample_rate: int, warmup: int = 1, repeats: int = 3
) -> SpeedReport:
    """Call `synthesize()` -> audio (n,) `warmup` times untimed, then `repeats` times timed; the
    report of the fastest timed run (least disturbed by the rest of the machine), with the
    largest peak memory of any timed run."""
    sample_rate = check_rate(sample_rate)
    if repeats < 1 or warmup < 0:
        raise UserValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        synthesize()
    reports = []
    for _ in range(repeats):
        with SpeedMeter() as meter:
            audio = synthesize()
        reports.append(meter.report(audio_s=np.asarray(audio).shape[-1] / sample_rate))
    best = min(reports, key=lambda r: r.rtf)
    cuda_peaks = [r.peak_cuda_bytes for r in reports if r.peak_cuda_bytes is not None]
    return SpeedReport(
        wall_s=best.wall_s,
        audio_s=best.audio_s,
        rtf=best.rtf,
        peak_rss_bytes=max(r.peak_rss_bytes for r in reports),
        peak_cuda_bytes=max(cuda_peaks) if cuda_peaks else None,
    )
