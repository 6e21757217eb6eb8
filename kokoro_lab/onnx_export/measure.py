"""The measurement behind docs/onnx_export.json: speed (onnxruntime RTF), accuracy against torch
and loudness of kokoro-onnx's int8 file and of our fp32 and int8 exports.

    python -m kokoro_lab.onnx_export.measure DIR [--json docs/onnx_export.json]

DIR holds `scripts/export_onnx.py output=DIR`'s files. Axes: n samples.

Speed: one process, one onnxruntime session per engine (intra-op threads = 2, inter-op 1), the
same sentences (Harvard 1-6, en-us phonemes), voice jf_alpha (the voicepack row by phoneme
count, as kokoro-onnx picks it), warmed up on every sentence; then `rounds` rounds in which the
engines take turns in a rotating order, so load from other work on the machine falls on all of
them alike. RTF = synthesis seconds / audio seconds over the sentences; the median round counts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from kokoro_lab.acceleration.cpu_features import cpu_features
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.evaluation.machine import cpu_capability, cpu_model
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.hub import embedded_onnx_path
from kokoro_lab.io import atomic_write
from kokoro_lab.metrics.spectral import MelCepstralDistortion
from kokoro_lab.model import load_model
from kokoro_lab.onnx_export.export import reference_model
from kokoro_lab.onnx_export.task import FP32_NAME, INT8_NAME
from kokoro_lab.onnx_export.verify import (
    compare,
    feeds,
    ort_session,
    rms_dbfs,
    snr_db,
    torch_reference,
)
from kokoro_lab.runtime import process_state
from kokoro_lab.text import phonemize
from kokoro_lab.voices import load_voice


def time_engines(sessions: dict, items: list[dict], rounds: int) -> dict[str, dict]:
    """Per engine: RTF of each round (engines alternate within a round) and the median."""
    for s in sessions.values():  # warm: every shape once
        for feed in items:
            s.run(None, feed)
    names = list(sessions)
    rtfs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start, samples = time.perf_counter(), 0
            for feed in items:
                samples += sessions[name].run(None, feed)[0].size
            rtfs[name].append((time.perf_counter() - start) / (samples / SAMPLE_RATE))
    return {
        n: {"rtf_median": float(np.median(v)), "rtf_rounds": [round(x, 4) for x in v]}
        for n, v in rtfs.items()
    }


def accuracy(sessions: dict, model, items: list[dict]) -> dict:
    """Per engine and sentence: durations equal, SNR, MCD and loudness against torch (the
    export's noise table); and two torch renders with different noise seeds, for scale."""
    ref = reference_model(model)
    refs = [torch_reference(ref, f) for f in items]
    out: dict = {}
    for name, session in sessions.items():
        rows = [compare(session, r, f) for f, r in zip(items, refs)]
        out[name] = [
            {
                "durations_equal": c.durations_equal,
                "length_equal": c.length_equal,
                "snr_db": None if c.snr_db is None else round(c.snr_db, 2),
                "mcd_db": None if c.mcd_db is None else round(c.mcd_db, 3),
                "torch_rms_dbfs": round(c.torch_rms_dbfs, 2),
                "onnx_rms_dbfs": round(c.onnx_rms_dbfs, 2),
                "loudness_delta_db": round(c.loudness_delta_db, 2),
            }
            for c in rows
        ]
    mcd = MelCepstralDistortion(align="none")
    seeds = []
    for feed in items:
        tokens, style = torch.from_numpy(feed["tokens"]), torch.from_numpy(feed["style"])
        with torch.inference_mode():
            a, b = (
                model(tokens, style, generator=torch.Generator().manual_seed(s)).audio[0].numpy()
                for s in (0, 1)
            )
        seeds.append(
            {
                "snr_db": round(snr_db(a, b), 2),
                "mcd_db": round(mcd(a, b, SAMPLE_RATE), 3),
                "rms_dbfs_seed0": round(rms_dbfs(a), 2),
            }
        )
    out["torch_seed0_vs_seed1"] = seeds
    return out


def measure(export_dir: Path, sentences: int = 6, rounds: int = 5, threads: int = 2) -> dict:
    """Speed, accuracy and loudness (module docstring) -> the JSON document."""
    load_before = os.getloadavg()
    voice = load_voice("jf_alpha")
    texts = harvard_sentences(sentences)
    items = [feeds(phonemize(s, "en-us"), voice) for s in texts]
    paths = {
        "kokoro_onnx_int8": embedded_onnx_path(),
        "export_fp32": export_dir / FP32_NAME,
        "export_int8": export_dir / INT8_NAME,
    }
    sessions = {n: ort_session(p, threads) for n, p in paths.items()}
    speed = time_engines(sessions, items, rounds)
    load_after_speed = os.getloadavg()
    acc = accuracy(sessions, load_model(), items)
    rtf = {n: v["rtf_median"] for n, v in speed.items()}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": f"python -m kokoro_lab.onnx_export.measure {export_dir}",
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model(),
            "torch_cpu_capability": cpu_capability(),
            "cpu": cpu_features().as_dict(),  # capability, int8/bf16 flags
            "load_average_1min_before_after_speed": [
                round(load_before[0], 2),
                round(load_after_speed[0], 2),
            ],
            "load_average_1min_end": round(os.getloadavg()[0], 2),
        },
        "setup": {
            "sentences": texts,
            "phonemes": [int(f["tokens"].shape[1]) - 2 for f in items],
            "voice": "jf_alpha",
            "threads": threads,
            "rounds": rounds,
            "files": {n: str(p) for n, p in paths.items()},
            "file_mb": {n: round(p.stat().st_size / 1e6, 1) for n, p in paths.items()},
        },
        "speed": speed,
        "ratios": {
            "onnx_export_vs_kokoro_onnx": round(rtf["kokoro_onnx_int8"] / rtf["export_int8"], 3),
            "export_fp32_vs_kokoro_onnx": round(rtf["kokoro_onnx_int8"] / rtf["export_fp32"], 3),
        },
        "accuracy_vs_torch": acc,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--json", type=Path, default=Path("docs/onnx_export.json"))
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with process_state(threads=2):
        result = measure(args.export_dir, args.sentences, args.rounds)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    atomic_write(args.json, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(json.dumps(result["ratios"]), f"wrote {args.json}")


if __name__ == "__main__":
    main()
