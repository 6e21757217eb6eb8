"""Measuring voicepack fine-tuning with a held-out voice as the unknown speaker.

Voice V (the target) speaks `n_train` Harvard sentences through our pipeline; those WAVs are the
"recordings". `scripts/finetune_voice.py` fits a voicepack to them starting from a different
voice S, in its own process (timed; peak memory from the child's rusage). Then, on `n_test` other
sentences, the fitted voice, V and S are rendered and scored:

- speaker similarity (Resemblyzer cosine, each clip to the centroid of V's clips of the same
  sentences): fitted vs V, S vs V, and V's clips of `n_test` disjoint sentences vs V (the ceiling);
- Whisper tiny.en WER of fitted, V and S;
- the aligner's duration error against the durations V's audio was rendered with, for the
  initial alignment (predictor with S's style, rescaled), the refined one (fitted style) and a
  uniform baseline (every token the same length).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.data.dataset import rescale_durations
from kokoro_lab.data.eval_sets import harvard_sentences
from kokoro_lab.io import atomic_write
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.runtime import process_state
from kokoro_lab.voicepack.alignment import duration_error
from kokoro_lab.voicepack.init import available_voices
from kokoro_lab.voicepack.synthetic import render_speaker_folder
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)

TRAIN_START, TEST_START, SELF_START = 0, 100, 200


def _aligner_errors(alignment: dict, truth: dict) -> dict[str, dict[str, float]]:
    out = {}
    uniform = {k: rescale_durations([1] * len(v), sum(v)) for k, v in truth.items()}
    for label, table in (
        ("initial", alignment["initial"]),
        ("refined", alignment["final"]),
        ("uniform_baseline", uniform),
    ):
        errs = [duration_error(torch.tensor(table[k]), torch.tensor(truth[k])) for k in table]
        out[label] = {m: float(np.mean([e[m] for e in errs])) for m in errs[0]}
    return out


def run_fit(data_dir: Path, fit_dir: Path, start: str, overrides: list[str]) -> dict:
    """The finetune_voice command in a child process -> wall time and the child's peak RSS."""
    command = [
        sys.executable,
        "-m",
        "kokoro_lab",
        "finetune_voice",
        f"data_dir={data_dir}",
        "name=fitted",
        f"init_voice={start}",
        f"output_dir={fit_dir}",
        *overrides,
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"finetune failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": " ".join(command[1:]),
        "process_wall_s": wall,
        # the fit is this process's only child: its CPU time shows the cost without the load
        "process_cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def measure(
    target: str,
    start: str,
    output_dir: str | os.PathLike,
    n_train: int = 30,
    n_test: int = 10,
    overrides: list[str] | None = None,
    threads: int = 1,
) -> dict:
    """Fit a voice to `target`'s renderings from `start`; returns (and writes) the numbers."""
    with process_state(threads=threads):
        return _measure(target, start, output_dir, n_train, n_test, overrides)


def _measure(target, start, output_dir, n_train, n_test, overrides) -> dict:
    from kokoro_lab.metrics import SpeakerSimilarity, WhisperASR

    out = Path(output_dir)
    data_dir, fit_dir = out / "data", out / "fit"
    model = load_model()
    # g2p="espeak": the front end voice fitting reads transcripts with (voicepack/data.py)
    v = Pipeline(model, load_voice(target), lang="en-us", seed=0, g2p="espeak")
    truth_path = data_dir / "true_durations.json"
    if not truth_path.is_file():
        truth = render_speaker_folder(v, harvard_sentences(n_train, TRAIN_START), data_dir)
        truth_path.write_text(json.dumps(truth))
    truth = json.loads(truth_path.read_text())
    # the target is an unknown speaker: its own pack must not shape the prior
    others = [n for n in available_voices() if n != target]
    prior = f"prior_voices=[{','.join(others)}]"
    fit = run_fit(data_dir, fit_dir, start, [prior, *(overrides or [])])
    fit_metrics = json.loads((fit_dir / "metrics.json").read_text())
    fitted = VoicePack.load(fit_dir / "fitted.pt")

    test = harvard_sentences(n_test, TEST_START)
    disjoint = harvard_sentences(n_test, SELF_START)

    def render(pack, texts):
        p = Pipeline(model, pack, lang="en-us", seed=0, g2p="espeak")
        return [p(text=t).audio.numpy() for t in texts]

    audio = {
        "fitted": render(fitted, test),
        "target": render(load_voice(target), test),
        "start": render(load_voice(start), test),
    }
    target_disjoint = render(load_voice(target), disjoint)
    speaker = SpeakerSimilarity()
    ref = audio["target"]
    sim = {
        k: float(speaker.similarity_to_set(a, ref, SAMPLE_RATE).mean())
        for k, a in audio.items()
        if k != "target"
    }
    sim["target_self_disjoint"] = float(
        speaker.similarity_to_set(target_disjoint, ref, SAMPLE_RATE).mean()
    )
    asr = WhisperASR(beam_size=5)
    wer = {k: float(asr.error_counts(a, SAMPLE_RATE, test).rate) for k, a in audio.items()}
    alignment = json.loads((fit_dir / "alignment.json").read_text())
    result = {
        "target": target,
        "start": start,
        "n_train": n_train,
        "n_test": n_test,
        "sentences": {
            "train": [TRAIN_START, n_train],
            "test": [TEST_START, n_test],
            "self_disjoint": [SELF_START, n_test],
        },
        "speaker_sim_to_target": sim,
        "ratio_fitted_to_self": sim["fitted"] / sim["target_self_disjoint"],
        "passes_sim_0.95": sim["fitted"] >= 0.95 * sim["target_self_disjoint"],
        "wer": wer,
        "wer_gap_points": 100 * (wer["fitted"] - wer["target"]),
        "aligner_error": _aligner_errors(alignment, truth),
        "fit": {
            **fit,
            "task_wall_s": fit_metrics["wall_s"],
            "threads": fit_metrics["threads"],
            "loadavg_at_end": fit_metrics["loadavg"],
            "speaker_sim_to_data": fit_metrics["speaker_sim_to_data"],
            "losses_first_10": fit_metrics["losses_first_10"],
            "losses_last_20": fit_metrics["losses_last_20"],
        },
        "definitions": {
            "speaker_sim_to_target": "mean over the test clips of the Resemblyzer cosine of each "
            "clip to the centroid of the target voice's clips of the same test sentences",
            "wer": "Whisper tiny.en (beam 5), corpus WER over the test sentences, as a fraction",
            "aligner_error": "mean over training clips of the mean absolute error per token "
            "(frames of 25 ms) and of the token boundaries, vs the rendered durations",
        },
    }
    atomic_write(out / "measure.json", lambda t: t.write_text(json.dumps(result, indent=2) + "\n"))
    return result
