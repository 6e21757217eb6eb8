"""The commands, in one registry: each builds the HydraEntry that `python -m kokoro_lab NAME`,
the `kokoro-lab NAME` console script and `scripts/NAME.py` all run (same config, free-text keys,
printed result and errors).

A builder imports its task when called, so one command does not pay for the others' imports.
"""

from __future__ import annotations

from collections.abc import Callable

from kokoro_lab.errors import UserValueError
from kokoro_lab.tasks.cli import HydraEntry, hydra_entry

#: Command name -> a function building its entry (add one with `@command`).
COMMANDS: dict[str, Callable[[], HydraEntry]] = {}


def command(build: Callable[[], HydraEntry]) -> Callable[[], HydraEntry]:
    """Register `build` as the command named like the function."""
    COMMANDS[build.__name__] = build
    return build


def entry(name: str) -> HydraEntry:
    """The entry point of command `name`; a UserValueError listing the commands for an unknown
    one."""
    if name not in COMMANDS:
        raise UserValueError(f"unknown command {name!r}: choose one of {', '.join(COMMANDS)}")
    return COMMANDS[name]()


@command
def infer() -> HydraEntry:
    """Synthesize speech: print the phonemes and the WAVs written."""
    from kokoro_lab.tasks.infer import InferResult
    from kokoro_lab.tasks.infer import infer as task

    def print_result(result: InferResult) -> None:
        for ps in result.phonemes:
            print(ps)
        if result.engine != "exact":
            print(f"engine: {result.engine}")
        for path in result.paths:
            print(f"wrote {path}")

    return hydra_entry(
        "infer", task, free_text=("text", "phonemes", "voice_mix"), on_result=print_result
    )


@command
def phonemize() -> HydraEntry:
    """Print the phonemes `infer` would speak, without synthesis."""
    from kokoro_lab.tasks.phonemize import phonemize as task

    def print_lines(lines: list[str]) -> None:
        for ps in lines:
            print(ps)

    return hydra_entry("phonemize", task, free_text=("text", "voice_mix"), on_result=print_lines)


@command
def train() -> HydraEntry:
    """Train or fine-tune Kokoro; print the run summary."""
    import json

    from kokoro_lab.tasks.train import train as task

    def print_result(summary: dict | None) -> None:
        if summary is not None:  # None on DDP ranks other than zero
            print(json.dumps(summary, indent=2))

    return hydra_entry("train", task, on_result=print_result)


@command
def evaluate() -> HydraEntry:
    """Evaluate voices, checkpoints or WAVs; print the comparison table."""
    import logging

    from kokoro_lab.evaluation.report import comparison_table
    from kokoro_lab.tasks.evaluate import evaluate as task

    def evaluate_quietly(cfg):
        """`evaluate`, without faster_whisper's INFO line per clip."""
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        return task(cfg)

    def print_result(result) -> None:
        if result is None:  # a DDP rank other than zero: rank 0 reports
            return
        print("\n".join(comparison_table(result.metrics["systems"])))
        print(f"wrote {result.output_dir / 'metrics.json'} and {result.report}")

    return hydra_entry("eval", evaluate_quietly, on_result=print_result, job_name="evaluate")


@command
def synthesize() -> HydraEntry:
    """Synthesize a corpus; print the counts and the manifest (exit 3 when rows were kept out)."""
    import sys

    from kokoro_lab.tasks.synthesize import ROWS_SKIPPED_EXIT
    from kokoro_lab.tasks.synthesize import synthesize as task

    def print_result(result) -> None:
        if result is None:  # a DDP rank other than zero: rank 0 reports
            return
        print(
            f"rendered {result.rendered}, skipped {result.skipped} finished earlier "
            f"({result.lines_per_s:.2f} lines/s, {result.audio_s_per_s:.2f} audio-s/s)"
        )
        print(f"wrote {result.manifest}")
        if result.bad:
            print(f"kept out {len(result.bad)} rows: see {result.bad_rows}", file=sys.stderr)
            sys.exit(ROWS_SKIPPED_EXIT)

    return hydra_entry("synthesize", task, on_result=print_result)


@command
def finetune_voice() -> HydraEntry:
    """Fit a voicepack from recordings; print the speaker similarity and the files written."""
    from kokoro_lab.tasks.finetune_voice import finetune_voice as task

    def print_result(result) -> None:
        sims = result.metrics["speaker_sim_to_data"]
        print(f"speaker similarity to the recordings: {sims['init']:.3f} -> {sims['fitted']:.3f}")
        print(f"wrote {result.voicepack}, {result.sample} and {result.metrics_path}")

    return hydra_entry("finetune_voice", task, free_text=("text",), on_result=print_result)


@command
def benchmark() -> HydraEntry:
    """Side-by-side speed benchmark; print the speed ratios."""
    from hydra.core.hydra_config import HydraConfig

    from kokoro_lab.tasks.benchmark import benchmark as task

    def benchmark_recording_overrides(cfg):
        """`benchmark`, with the command's overrides recorded for docs/benchmark.json (`argv`,
        a key of the schema that the command sets)."""
        cfg.argv = list(HydraConfig.get().overrides.task)
        return task(cfg)

    def print_result(result: dict) -> None:
        for name, value in result["ratios"].items():
            print(f"{name:<32} {value}")

    return hydra_entry(
        "benchmark", benchmark_recording_overrides, on_result=print_result, job_name="benchmark"
    )


@command
def count_params() -> HydraEntry:
    """Print the parameter count per component."""
    from kokoro_lab.tasks.weights import count_params as task

    def print_result(counts: dict[str, int]) -> None:
        for name, n in counts.items():
            print(f"{name:<14} {n:>12,}")

    return hydra_entry("count_params", task, on_result=print_result)


@command
def export_checkpoint() -> HydraEntry:
    """Write the loaded weights in the official v1.0 layout; print the path."""
    from kokoro_lab.tasks.weights import export_checkpoint as task

    return hydra_entry("export_checkpoint", task, on_result=lambda path: print(f"wrote {path}"))


@command
def export_onnx() -> HydraEntry:
    """Write DIR/kokoro.onnx and DIR/kokoro.int8.onnx for onnxruntime / kokoro-onnx; print them."""
    from kokoro_lab.onnx_export.task import export_onnx as task

    def print_result(result) -> None:
        for path in result.paths:
            print(f"wrote {path}")

    return hydra_entry("export_onnx", task, on_result=print_result)


@command
def serve() -> HydraEntry:
    """Serve the OpenAI-compatible speech API and the web page until SIGTERM (docs/serving.md)."""
    from kokoro_lab.serving.server import serve as task

    return hydra_entry("serve", task, on_result=lambda how: print(f"server {how}"))
