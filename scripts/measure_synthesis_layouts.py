"""Corpus synthesis speed per process/thread layout on this CPU -> docs/synthesis_layouts.json.

    python scripts/measure_synthesis_layouts.py [--lines 200] [--batch-size 8] [--out FILE]

Renders the first N Harvard sentences (kokoro_lab/evaluation/harvard_sentences_lists_01-36.txt)
with the embedded default voice through `scripts/synthesize.py`, once per layout: 1 process x
all cores' threads, and as many processes as cores x 1 thread (trainer=synthesis_ddp, gloo).
Lines/s and audio-s/s are the job's own (its progress numbers: from the first batch to the
last WAV, start-up excluded); the command's whole wall time is recorded beside them. The
load average before and after each run is recorded: other work on a shared machine slows a
layout down, and the numbers are only comparable when it stayed low.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"rendered (\d+), skipped \d+ finished earlier \(([\d.]+) lines/s, ([\d.]+)")


def machine() -> dict:
    import torch

    return {
        "nproc": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            None,
        ),
    }


def run_layout(name: str, args: list[str], text_file: Path, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        command = [
            sys.executable,
            str(ROOT / "scripts" / "synthesize.py"),
            f"text_file={text_file}",
            f"output_dir={out}",
            f"batch_size={batch_size}",
            *args,
        ]
        load_before = os.getloadavg()
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        load_after = os.getloadavg()
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
        match = RESULT.search(proc.stdout)
        rows = (out / "manifest.tsv").read_text().splitlines()[1:]
        samples = {r.split("\t")[1]: int(r.split("\t")[5]) for r in rows}
        audio_s = sum(samples.values()) / 24_000
        return {
            "layout": name,
            "args": args,
            "lines": int(match[1]),
            "audio_s": round(audio_s, 2),
            "lines_per_s": float(match[2]),
            "audio_s_per_s": float(match[3]),
            "command_wall_s": round(wall, 1),
            "load_average_1_5_15min_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15min_after": [round(x, 2) for x in load_after],
            "samples": samples,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "synthesis_layouts.json")
    args = parser.parse_args()
    from kokoro_lab.evaluation.texts import harvard_sentences

    cores = os.cpu_count()
    layouts = [
        (f"1 process x {cores} threads", [f"threads={cores}", "trainer.devices=1"]),
        (
            f"{cores} processes x 1 thread",
            ["trainer=synthesis_ddp", f"trainer.devices={cores}", "trainer.accelerator=cpu"],
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "harvard.txt"
        text_file.write_text("\n".join(harvard_sentences()[: args.lines]) + "\n")
        results = []
        for name, extra in layouts:
            print(f"measuring {name} ...", flush=True)
            results.append(run_layout(name, extra, text_file, args.batch_size))
            print({k: v for k, v in results[-1].items() if k != "samples"}, flush=True)
    same = results[0]["samples"] == results[1]["samples"]
    for r in results:
        del r["samples"]
    best = max(results, key=lambda r: r["audio_s_per_s"])
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "text": f"first {args.lines} Harvard sentences, embedded default voice",
        "batch_size": args.batch_size,
        "layouts": results,
        "sample_counts_identical_across_layouts": same,
        "faster": best["layout"],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
