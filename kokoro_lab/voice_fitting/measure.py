"""Measuring voicepack fine-tuning with a held-out voice as the unknown speaker.

Voice V (the target) speaks `n_train` Harvard sentences through our pipeline; those WAVs are the
"recordings". The `finetune_voice` task fits a voicepack to them starting from a different voice
S, in this process (timed: wall and CPU time, and the process's peak RSS). Then, on `n_test`
other sentences, the fitted voice, V and S are rendered and scored:

- speaker similarity (Resemblyzer cosine, each clip to the centroid of V's clips of the same
  sentences): fitted vs V, S vs V, and V's clips of `n_test` disjoint sentences vs V (the ceiling);
- Whisper tiny.en WER of fitted, V and S;
- the aligner's duration error against the durations V's audio was rendered with, for the
  initial alignment (predictor with S's style, rescaled), the refined one (fitted style) and a
  uniform baseline (every token the same length).

Stages: `render_recordings` -> `fit_voice` -> `render_test_audio` -> `speaker_similarities`,
`word_error_rates`, `aligner_errors` -> `summary`.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.io import atomic_write
from kokoro_lab.model import KokoroModel, load_model
from kokoro_lab.modules.length_regulator import rescale_durations
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.runtime import process_state
from kokoro_lab.schemas import compose_config
from kokoro_lab.voice_fitting.durations import duration_error
from kokoro_lab.voice_fitting.init import available_voices
from kokoro_lab.voice_fitting.synthetic import render_speaker_folder
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)

TRAIN_START, TEST_START, SELF_START = 0, 100, 200


def render_recordings(model: KokoroModel, target: str, n_train: int, data_dir: Path) -> dict:
    """V speaks the training sentences into a speaker folder `data_dir` (once; reused when it
    exists) -> the durations each clip was rendered with {id: [d (t,)]}."""
    truth_path = data_dir / "true_durations.json"
    if not truth_path.is_file():
        # g2p="espeak": the front end voice fitting reads transcripts with (voice_fitting/data.py)
        v = Pipeline(model, load_voice(target), lang="en-us", seed=0, g2p="espeak")
        truth = render_speaker_folder(v, harvard_sentences(n_train, TRAIN_START), data_dir)
        truth_path.write_text(json.dumps(truth))
    return json.loads(truth_path.read_text())


def fit_voice(data_dir: Path, fit_dir: Path, target: str, start: str, overrides: list[str]) -> dict:
    """The finetune_voice task, run in this process from `start` on `data_dir` -> the command it
    stands for, wall and CPU time, and the process's peak RSS before and after the fit."""
    from kokoro_lab.tasks.finetune_voice import finetune_voice

    # the target is an unknown speaker: its own pack must not shape the prior
    others = [n for n in available_voices() if n != target]
    args = [
        f"data_dir={data_dir}",
        "name=fitted",
        f"init_voice={start}",
        f"output_dir={fit_dir}",
        f"prior_voices=[{','.join(others)}]",
        *overrides,
    ]
    cfg = compose_config("finetune_voice", args)
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    finetune_voice(cfg)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "command": " ".join(["finetune_voice", *args]),
        "process_wall_s": wall,
        # CPU time shows the cost without the load of other jobs on the machine
        "process_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        # the process's high-water mark: the fit's peak plus what this measurement holds
        "peak_rss_mb": after.ru_maxrss / 1024,
        "peak_rss_before_fit_mb": before.ru_maxrss / 1024,
    }


def render_test_audio(
    model: KokoroModel, fitted: VoicePack, target: str, start: str, n_test: int
) -> tuple[dict[str, list[np.ndarray]], list[np.ndarray]]:
    """The test sentences by the fitted voice, V and S ({label: [audio (n,)]}), and V's clips
    of `n_test` disjoint sentences (the similarity ceiling)."""

    def render(pack, texts):
        p = Pipeline(model, pack, lang="en-us", seed=0, g2p="espeak")
        return [p(text=t).audio.numpy() for t in texts]

    test = harvard_sentences(n_test, TEST_START)
    audio = {
        "fitted": render(fitted, test),
        "target": render(load_voice(target), test),
        "start": render(load_voice(start), test),
    }
    return audio, render(load_voice(target), harvard_sentences(n_test, SELF_START))


def speaker_similarities(
    audio: dict[str, list[np.ndarray]], target_disjoint: list[np.ndarray]
) -> dict[str, float]:
    """Mean Resemblyzer cosine of each system's clips to the centroid of V's test clips."""
    from kokoro_lab.metrics import SpeakerSimilarity

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
    return sim


def word_error_rates(audio: dict[str, list[np.ndarray]], n_test: int) -> dict[str, float]:
    """Whisper tiny.en (beam 5) corpus WER of each system over the test sentences."""
    from kokoro_lab.metrics import WhisperASR

    asr = WhisperASR(beam_size=5)
    test = harvard_sentences(n_test, TEST_START)
    return {k: float(asr.error_counts(a, SAMPLE_RATE, test).rate) for k, a in audio.items()}


def aligner_errors(alignment: dict, truth: dict) -> dict[str, dict[str, float]]:
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


def summary(target, start, n_train, n_test, sim, wer, errors, fit, fit_metrics) -> dict:
    """The numbers of one measurement, with their definitions (measure.json)."""
    return {
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
        "aligner_error": errors,
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
            "peak_rss_mb": "the measuring process's peak RSS by the end of the fit (the fit runs "
            "in-process): the fit's peak plus the model and audio the measurement holds",
        },
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
    out = Path(output_dir)
    data_dir, fit_dir = out / "data", out / "fit"
    model = load_model()
    truth = render_recordings(model, target, n_train, data_dir)
    fit = fit_voice(data_dir, fit_dir, target, start, overrides or [])
    fit_metrics = json.loads((fit_dir / "metrics.json").read_text())
    fitted = VoicePack.load(fit_dir / "fitted.pt")
    audio, target_disjoint = render_test_audio(model, fitted, target, start, n_test)
    sim = speaker_similarities(audio, target_disjoint)
    wer = word_error_rates(audio, n_test)
    alignment = json.loads((fit_dir / "alignment.json").read_text())
    errors = aligner_errors(alignment, truth)
    result = summary(target, start, n_train, n_test, sim, wer, errors, fit, fit_metrics)
    atomic_write(out / "measure.json", lambda t: t.write_text(json.dumps(result, indent=2) + "\n"))
    return result
