"""Measuring the one-clip mode with held-out embedded voices as the unknown speakers.

Per target voice V: V speaks Harvard sentences (from CLIP_START) into one recording of about
`seconds` seconds with natural pauses (0.35-0.8 s), written at 22.05 kHz stereo. The finetune_voice
task fits it with no transcript, in this process (timed: CPU, wall, peak RSS), from
`init_voice=auto` with V kept out of the candidates and out of the style prior. The fitted voice
then speaks `n_test` other sentences, scored as the folder mode's measurement scores
(voice_fitting/measure.py): Resemblyzer similarity to V's audio of the same sentences, relative to
V's self-similarity on disjoint sentences (the ceiling), and Whisper tiny.en WER against V's own.
Robustness conditions refit the same recording with white noise at 20 dB SNR (to its active speech
level) and scaled to -28 dBFS.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.io import atomic_write
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.runtime import process_state
from kokoro_lab.schemas import compose_config
from kokoro_lab.voice_fitting.data import active_level_db
from kokoro_lab.voice_fitting.init import available_voices
from kokoro_lab.voice_fitting.measure import (
    TEST_START,
    render_test_audio,
    speaker_similarities,
    word_error_rates,
)
from kokoro_lab.voice_fitting.synthetic import join_with_pauses
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)

#: The recording's sentences start here (the test sentences at measure.TEST_START).
CLIP_START = 0
FILE_RATE = 22_050
CONDITIONS = ("clean", "noise_20db", "level_-28dbfs")


def speak_recording(model, target: str, seconds: float, path: Path) -> list[str]:
    """V's sentences from CLIP_START until `seconds` of speech, pauses between, to `path` at
    22.05 kHz stereo -> the sentences."""
    import librosa

    pipe = Pipeline(model, load_voice(target), lang="en-us", seed=0, g2p="espeak")
    rng = np.random.default_rng(0)
    sentences, parts, total = [], [], 0.0
    for text in harvard_sentences(20, CLIP_START):
        audio = pipe(text=text).audio.numpy()
        sentences.append(text)
        parts.append(audio)
        total += len(audio) / SAMPLE_RATE
        if total >= seconds:
            break
    audio, _ = join_with_pauses(parts, rng.uniform(0.35, 0.8, len(parts) - 1).tolist())
    audio = librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=FILE_RATE)
    sf.write(path, np.stack([audio, audio], axis=1), FILE_RATE, "PCM_16")
    return sentences


def degrade(path: Path, condition: str, out: Path) -> Path:
    """The recording under `condition`: "clean"; "noise_NdB": + white noise N dB below its active
    speech level; "level_NdBfs": scaled to an active level of N dBFS."""
    if condition == "clean":
        return path
    audio, rate = sf.read(path, dtype="float32")
    level = active_level_db(audio.mean(1))
    kind, db = condition.split("_")
    db = float(db.removesuffix("dbfs").removesuffix("db"))
    if kind == "noise":
        noise = np.random.default_rng(1).standard_normal(audio.shape).astype(np.float32)
        audio = audio + noise * 10 ** ((level - db) / 20)
    elif kind == "level":
        audio = audio * 10 ** ((db - level) / 20)
    else:
        raise ValueError(f"unknown condition {condition!r}")
    sf.write(out, np.clip(audio, -1, 1), rate, "PCM_16")
    return out


def fit_one_clip(audio: Path, fit_dir: Path, target: str, overrides: list[str]) -> dict:
    """The finetune_voice task on one recording, in this process -> its metrics, with the
    process's CPU time, wall time and peak RSS."""
    from kokoro_lab.tasks.finetune_voice import finetune_voice

    others = [n for n in available_voices() if n != target]
    args = [
        f"audio={audio}",
        "name=fitted",
        "init_voice=auto",
        f"init_exclude=[{target}]",
        f"prior_voices=[{','.join(others)}]",
        f"output_dir={fit_dir}",
        "logger=none",
        *overrides,
    ]
    before, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    result = finetune_voice(compose_config("finetune_voice", args))
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "command": " ".join(["finetune_voice", *args]),
        "process_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "process_wall_s": time.perf_counter() - began,
        "peak_rss_mb": after.ru_maxrss / 1024,
        "metrics": result.metrics,
    }


def measure_one_clip(
    targets: list[str],
    output_dir: str | os.PathLike,
    conditions: tuple[str, ...] = CONDITIONS,
    robust_targets: int = 1,
    n_test: int = 30,
    seconds: float = 20.0,
    overrides: list[str] | None = None,
    report: str | os.PathLike | None = None,
    threads: int = 1,
) -> dict:
    """Every target's clean fit first (when `conditions` has "clean"), then the other conditions
    for the first `robust_targets` targets; the results so far are written to `report` (and
    OUTPUT_DIR/measure.json) after each fit, so a partial run reports."""
    with process_state(threads=threads):
        return _measure(
            targets,
            Path(output_dir),
            conditions,
            robust_targets,
            n_test,
            seconds,
            overrides,
            report,
        )


def _measure(targets, out, conditions, robust_targets, n_test, seconds, overrides, report):
    model = load_model()
    results: dict = {"n_test": n_test, "seconds": seconds, "runs": []}
    refs: dict = {}
    plan = [(t, "clean") for t in targets if "clean" in conditions] + [
        (t, c) for t in targets[:robust_targets] for c in conditions if c != "clean"
    ]
    for target, condition in plan:
        run_dir = out / target
        run_dir.mkdir(parents=True, exist_ok=True)
        clip = run_dir / "clip.wav"
        if target not in refs:
            refs[target] = {"sentences": speak_recording(model, target, seconds, clip)}
        fit = fit_one_clip(
            degrade(clip, condition, run_dir / f"{condition}.wav"),
            run_dir / condition,
            target,
            overrides or [],
        )
        fitted = VoicePack.load(run_dir / condition / "fitted.pt")
        start = fit["metrics"]["init"]["voice"]
        if "audio" not in refs[target]:
            refs[target]["audio"], refs[target]["disjoint"] = render_test_audio(
                model, fitted, target, start, n_test
            )
        audio = dict(refs[target]["audio"])
        pipe = Pipeline(model, fitted, lang="en-us", seed=0, g2p="espeak")
        audio["fitted"] = [
            pipe(text=t).audio.numpy() for t in harvard_sentences(n_test, TEST_START)
        ]
        sim = speaker_similarities(audio, refs[target]["disjoint"])
        wer = word_error_rates({k: audio[k] for k in ("fitted", "target")}, n_test)
        m = fit["metrics"]
        results["runs"].append(
            {
                "target": target,
                "condition": condition,
                "start": start,
                "clip_sentences": len(refs[target]["sentences"]),
                "clip_seconds": sf.info(clip).duration,
                "transcript": m["transcript"],
                "speaker_sim_to_target": sim,
                "ratio_fitted_to_self": sim["fitted"] / sim["target_self_disjoint"],
                "wer": wer,
                "wer_gap_points": 100 * (wer["fitted"] - wer["target"]),
                "heldout_similarity": m["heldout_similarity"],
                "heldout_history": m["heldout_history"],
                "cpu_seconds": fit["process_cpu_s"],
                "wall_seconds": fit["process_wall_s"],
                "peak_rss_mb": fit["peak_rss_mb"],
                "command": fit["command"],
            }
        )
        log.info("%s %s: %s", target, condition, results["runs"][-1]["ratio_fitted_to_self"])
        text = json.dumps(results, indent=2) + "\n"
        for path in [out / "measure.json", *([Path(report)] if report else [])]:
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text))
    return results
