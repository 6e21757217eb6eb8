"""The machine and software behind a measurement, and the plumbing the measurement studies share.

Axes: none (facts about the process, dicts and paths).

`machine()` is what every measurement records about the computer (`environment(packages)` adds
package versions); the studies (`frontend_study`, `normalizer_study`) also share their default
model and recognizer (`model_and_asr`), one timed pass of synthesis and recognition
(`speak_and_transcribe`), `asr_settings`, `check_output_folders` (run before hours
of synthesis, not after), `write_study` (the JSON and the Markdown next to it) and `pct`.
`kokoro_lab.tasks.benchmark` and `kokoro_lab.tasks.evaluate` record the same machine facts under
their own keys.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kokoro_lab.errors import UserFileError
from kokoro_lab.evaluation.report import package_version, write_json
from kokoro_lab.io import atomic_write

log = logging.getLogger(__name__)


def cpu_model() -> str | None:
    """The CPU's model name (what `lscpu | grep 'Model name'` prints), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return platform.processor() or None
    return None


def cpu_capability() -> str:
    """The instruction set torch's CPU kernels use here ("AVX2", "AVX512", ...)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def machine() -> dict:
    """cpu_model, cpu_capability, torch_threads (now), cpu_count, load_average_1_5_15min (now),
    platform, python and torch: the computer behind the numbers."""
    import torch

    return {
        "cpu_model": cpu_model(),
        "cpu_capability": cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15min": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def environment(packages: Sequence[str] = ()) -> dict:
    """`machine()` plus {package: installed version, None where not installed}."""
    return {**machine(), **{name: package_version(name) for name in packages}}


def asr_settings(asr) -> dict:
    """The recognizer settings a study records: beam size, CPU threads, model path."""
    return {
        "beam_size": getattr(asr, "beam_size", None),
        "threads": getattr(asr, "threads", None),
        "model_path": str(getattr(asr, "model_path", None) or "embedded Whisper tiny.en"),
    }


def model_and_asr(model=None, asr=None) -> tuple:
    """(model, asr), the studies' defaults where None: `load_model()` (the embedded weights) and
    Whisper tiny.en decoding greedily (`WhisperASR(beam_size=1)`)."""
    if model is None:
        from kokoro_lab.model import load_model

        model = load_model()
    if asr is None:
        from kokoro_lab.metrics.asr import WhisperASR

        asr = WhisperASR(beam_size=1)
    return model, asr


def speak_and_transcribe(
    pipeline, asr, texts: Sequence[str], batch_size: int
) -> tuple[list, list[str], dict]:
    """`pipeline` speaks `texts` in batches, `asr` transcribes each clip -> (the pipeline's
    results, the transcripts, {synth_s, asr_s: wall seconds of each step, audio_s: seconds of
    audio})."""
    started = time.perf_counter()
    spoken = pipeline.synthesize_batch(list(texts), batch_size=batch_size)
    synth_s = time.perf_counter() - started
    audios = [s.audio.numpy() for s in spoken]
    started = time.perf_counter()
    hyps = asr.transcribe_batch(audios, spoken[0].sample_rate)
    asr_s = time.perf_counter() - started
    audio_s = sum(s.duration_s for s in spoken)
    return spoken, hyps, {"synth_s": synth_s, "asr_s": asr_s, "audio_s": audio_s}


def check_output_folders(paths: Sequence[str | Path]) -> None:
    """Raise UserFileError unless the folder of every path exists: fail now, not after an hour
    of synthesis."""
    for out in paths:
        if not Path(out).resolve().parent.is_dir():
            raise UserFileError(
                f"the folder of {str(out)!r} does not exist: create it or choose another output "
                "path"
            )


def write_study(
    study: dict, json_path: str | Path, md_path: str | Path, markdown: Callable[[dict], str]
) -> None:
    """Write `study` as JSON to json_path and `markdown(study)` to md_path."""
    write_json(Path(json_path), study)
    report = markdown(study)
    atomic_write(Path(md_path), lambda tmp: tmp.write_text(report, encoding="utf-8"))
    log.info("wrote %s and %s (%.0f s)", json_path, md_path, study.get("wall_s", 0.0))


def pct(x: float) -> str:
    """A rate as a percentage with one decimal: 0.1234 -> "12.3"."""
    return f"{100 * x:.1f}"
