"""One engine in one process: `python -m kokoro_lab.benchmark.worker '<json config>'`.

Prints one JSON line: real-time factor per utterance (median of `repeats` runs after `warmup`),
throughput in audio seconds per wall second, load time and this process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time

import numpy as np
import torch

from kokoro_lab.config import SAMPLE_RATE


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(cfg: dict) -> dict:
    torch.set_num_threads(cfg["threads"])
    if cfg.get("tune_allocator"):
        from kokoro_lab.runtime import tune_allocator

        tune_allocator()
    from kokoro_lab.benchmark.engines import make_engine

    t0 = time.perf_counter()
    synth = make_engine(cfg["engine"], cfg)
    phonemes: list[str] = cfg["phonemes"]
    styles = [np.asarray(s, dtype=np.float32) for s in cfg["styles"]]
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    synth(phonemes[:1], styles[:1])  # warm-up (and compilation, for compiled engines)
    t_first = time.perf_counter() - t0
    for _ in range(cfg["warmup"] - 1):
        synth(phonemes, styles)
    runs = []
    for _ in range(cfg["repeats"]):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        audio = synth(phonemes, styles)
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        runs.append((wall, sum(len(a) for a in audio) / SAMPLE_RATE, cpu))
    per_run_rtf = [wall / seconds for wall, seconds, _ in runs]
    wall, seconds, _ = runs[int(np.argsort(per_run_rtf)[len(runs) // 2])]
    return {
        "engine": cfg["engine"],
        "rtf_median": statistics.median(per_run_rtf),
        "rtf_runs": per_run_rtf,
        # CPU seconds (all threads, user + system) per audio second: less sensitive than wall
        # time to other processes on a shared machine
        "cpu_rtf_median": statistics.median(cpu / seconds for _, seconds, cpu in runs),
        "throughput_audio_s_per_s": seconds / wall,
        "audio_s_per_run": seconds,
        "load_s": t_load,
        "first_call_s": t_first,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def first_chunk(cfg: dict) -> dict:
    """Streaming latency: time to the first audio of a long text vs synthesizing its first
    sentence alone (both after a warm-up), and the loudest sample jump at chunk joins."""
    torch.set_num_threads(cfg["threads"])
    from kokoro_lab.model import load_model
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    pipe = Pipeline(load_model(), load_voice(cfg["voice"]), lang="en-us", seed=0)
    text, first_sentence = cfg["long_text"], cfg["first_sentence"]
    pipe(text=first_sentence)  # warm-up
    firsts, alones = [], []
    for _ in range(cfg["repeats"]):
        t0 = time.perf_counter()
        stream = pipe.stream(text=text)
        next(stream)
        firsts.append(time.perf_counter() - t0)
        stream.close()
        t0 = time.perf_counter()
        pipe(text=first_sentence)
        alones.append(time.perf_counter() - t0)
    chunks = list(pipe.stream(text=text[: cfg["join_chars"]]))
    jumps = [abs(float(b.audio[0]) - float(a.audio[-1])) for a, b in zip(chunks, chunks[1:])]
    inner = np.concatenate([np.abs(np.diff(c.audio.numpy())) for c in chunks])
    return {
        "first_chunk_s": statistics.median(firsts),
        "first_sentence_s": statistics.median(alones),
        "chunks": len(chunks),
        "max_join_jump": max(jumps) if jumps else 0.0,
        "p99_sample_step": float(np.percentile(inner, 99)),
    }


def quality(cfg: dict) -> dict:
    """Per inference engine in `paths` (exact first): Whisper tiny.en WER on the sentences, whether
    every duration equals exact's, and the audio's relative L2 distance to exact's (where the
    lengths agree): what makes a fast path lossy or not."""
    torch.set_num_threads(cfg["threads"])
    from kokoro_lab.acceleration.engine import apply_engine
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.metrics.error_rate import wer
    from kokoro_lab.model import load_model
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    asr = WhisperASR(beam_size=1)
    voice = load_voice(cfg["voice"])
    out: dict = {"sentences": len(cfg["sentences"])}
    reference = None
    for name in cfg["paths"]:
        model = load_model()
        apply_engine(model, name)
        pipe = Pipeline(model, voice, lang="en-us", seed=0)
        results = pipe.synthesize_batch(cfg["sentences"], batch_size=4)
        audio = [r.audio.numpy() for r in results]
        durations = [np.concatenate([c.durations.numpy() for c in r.chunks]) for r in results]
        out[f"wer_{name}"] = wer(cfg["sentences"], asr.transcribe_batch(audio, SAMPLE_RATE))
        if reference is None:
            reference = (audio, durations)
            continue
        same = all(np.array_equal(a, b) for a, b in zip(durations, reference[1]))
        out[f"durations_equal_{name}"] = same
        if same:
            diff = sum(float(np.sum((a - b) ** 2)) for a, b in zip(audio, reference[0]))
            norm = sum(float(np.sum(b**2)) for b in reference[0])
            out[f"audio_rel_l2_{name}"] = (diff / norm) ** 0.5
    return out


MODES = {"first_chunk": first_chunk, "quality": quality}


def run(cfg: dict) -> dict:
    return MODES[cfg["engine"]](cfg) if cfg["engine"] in MODES else main(cfg)


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
