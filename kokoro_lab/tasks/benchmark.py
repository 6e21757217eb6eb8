"""`python scripts/benchmark.py`: every engine in its own process on the same phonemes, voices and
threads; writes docs/benchmarks.md and docs/benchmark.json (ratios > 1: kokoro_lab is faster)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from kokoro_lab.acceleration.cpu_features import cpu_features
from kokoro_lab.acceleration.engine import FASTEST_TABLE
from kokoro_lab.benchmark.engines import OUR_ENGINES
from kokoro_lab.evaluation.machine import machine
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.io import atomic_write
from kokoro_lab.runtime import ENV_EQUIVALENT
from kokoro_lab.text import phonemize
from kokoro_lab.voices import load_voice

log = logging.getLogger(__name__)

#: Engines whose process gets the tuned glibc allocator (ours by default; the KModel twin so
#: the comparison at equal allocator settings exists).
TUNED = {
    "kokoro_lab_fp32",
    "kokoro_lab_batch4",
    "kokoro_lab_batch16",
    "kokoro_lab_bf16",
    "kokoro_lab_int8",
    "kokoro_lab_compile",
    "kokoro_lab_int8_compile",
    "kmodel_tuned_alloc",
}

#: A lossy engine qualifies as "fastest" when its WER is at most this above exact's.
WER_MARGIN = 0.01


def _worker(cfg: dict, timeout: float, inductor_cache: str | None = None) -> dict:
    """One engine's worker process -> its measurements. Compiled engines start from the empty
    inductor cache `inductor_cache` (a fresh one when None): the first-call column is the real
    compile time, and a stale or truncated cache from an earlier run cannot break it."""
    if inductor_cache is None:
        with tempfile.TemporaryDirectory(prefix="kokoro_lab_inductor_") as cache:
            return _worker(cfg, timeout, cache)
    env = {**os.environ, "OMP_NUM_THREADS": str(cfg["threads"])}
    if cfg["engine"] == "kmodel_tuned_alloc":
        env.update(ENV_EQUIVALENT)  # the official model as a user would tune it: env vars
    log.info("benchmark: %s", cfg["engine"])
    env["TORCHINDUCTOR_CACHE_DIR"] = inductor_cache
    proc = subprocess.run(
        [sys.executable, "-m", "kokoro_lab.benchmark.worker", json.dumps(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"engine {cfg['engine']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _export_onnx(timeout: float) -> str:
    """Our int8 ONNX export of the embedded weights, the file engine=onnx runs (made in its own
    process if the cache lacks it, so no engine's timing includes the export) -> its path."""
    log.info("benchmark: the int8 ONNX export for kokoro_lab_onnx and ort_export_int8")
    command = [sys.executable, "-m", "kokoro_lab.acceleration.onnx_engine"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the ONNX export failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def bf16_capable() -> bool:
    """True on CPUs with bfloat16 units (avx512_bf16 / AMX) and oneDNN bf16 kernels, where the
    bf16 decoder pays (torch's capability string says plain "AVX512" on such CPUs)."""
    return cpu_features().bf16


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if not num or not den else round(num / den, 3)


def benchmark(cfg: DictConfig) -> dict:
    """Every engine, then streaming and (with `quality`) the fast path's WER, each in its own
    process; writes output_dir/benchmark.json and benchmarks.md and returns the former."""
    quick = bool(cfg.quick)
    sentences = harvard_sentences(cfg.quick_sentences if quick else cfg.num_sentences)
    base = _worker_base(cfg, sentences, quick)
    load_before = os.getloadavg()
    names, skipped = _engine_names(cfg, quick)
    if {"ort_export_int8", "kokoro_lab_onnx"} & set(names):
        base = {**base, "onnx_export_int8": _export_onnx(cfg.timeout_s)}
    engines, failed = _run_engines(cfg, base, names, quick)
    stream = _worker(_streaming_config(cfg, base, quick), cfg.timeout_s)
    quality = (
        _worker(_quality_config(cfg, base, names, quick), cfg.timeout_s) if cfg.quality else {}
    )
    fastest = _fastest(engines, quality)
    features = cpu_features()
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(cfg, load_before),
        "cpu_capability": features.capability,
        "cpu_flags": list(features.flags),
        "cpu_kind": features.kind,
        "command": " ".join(["python", "scripts/benchmark.py", *cfg.get("argv", [])]),
        "sentences": len(base["phonemes"]),
        "engines": engines,
        "streaming": stream,
        "quality": quality,
        "ratios": _ratios(engines, stream, fastest),
        "fastest_cpu_engine": fastest,
        "failed_engines": failed,
        "skipped_engines": skipped,
    }
    _write(Path(cfg.output_dir), result, cfg)
    # `engine=fastest` offers the engines `engine=` runs (no torch.compile): the fastest of those
    offered = _fastest({k: v for k, v in engines.items() if not k.endswith("_compile")}, quality)
    if quality.get("sentences", 0) >= 100 and str(cfg.device) == "cpu" and offered:
        record_fastest(result, offered)  # WER on 100+ sentences resolves the one-point margin
    return result


def _fastest(engines: dict[str, dict], quality: dict) -> str | None:
    """Our engine of the highest throughput whose WER is within WER_MARGIN of exact's (an engine
    without a WER measurement is lossless: fp32, padded batches, compiled fp32)."""
    exact_wer = quality.get("wer_exact")

    def keeps_words(name: str) -> bool:
        engine = OUR_ENGINES.get(name, "exact")
        if engine == "exact":
            return True
        wer = quality.get(f"wer_{engine}")
        return wer is not None and exact_wer is not None and wer <= exact_wer + WER_MARGIN

    ours = [e for e in engines if e.startswith("kokoro_lab") and keeps_words(e)]
    return max(ours, key=_thr(engines), default=None)


def record_fastest(result: dict, benchmark_engine: str) -> None:
    """FASTEST_TABLE[this CPU's kind] = the engine `fastest` should pick (`benchmark_engine`'s),
    from this run (a full CPU run: where `fastest` looks it up, shipped in the package)."""
    engine = OUR_ENGINES.get(benchmark_engine, "exact")
    table = json.loads(FASTEST_TABLE.read_text()) if FASTEST_TABLE.exists() else {}
    table[result["cpu_kind"]] = {
        "engine": engine,
        "benchmark_engine": benchmark_engine,
        "date": result["date"],
        "cpu_flags": result["cpu_flags"],
    }
    text = json.dumps(dict(sorted(table.items())), indent=1) + "\n"
    atomic_write(FASTEST_TABLE, lambda p: p.write_text(text))


def _worker_base(cfg: DictConfig, sentences: list[str], quick: bool) -> dict:
    """What every worker gets: the sentences phonemized once (en-us), a voicepack row per
    sentence (the voices in turn), the device, threads and the warm-up and timed runs."""
    phonemes = [phonemize(s, "en-us") for s in sentences]
    voices = [load_voice(v) for v in cfg.voices]
    styles = [
        voices[i % len(voices)].select(len(ps)).numpy().tolist() for i, ps in enumerate(phonemes)
    ]
    return {
        "device": str(cfg.device),
        "threads": int(cfg.threads),
        "phonemes": phonemes,
        "styles": styles,
        "warmup": int(cfg.warmup),
        "repeats": int(cfg.quick_repeats if quick else cfg.repeats),
    }


def _engine_names(cfg: DictConfig, quick: bool) -> tuple[list[str], dict[str, str]]:
    """(cfg.engines as run here, why each left-out engine was left out): on a GPU batch 1 RTF and
    throughput at B = 1 ... 64 against KModel instead; bf16 added on CPUs with bfloat16 units;
    compiled engines left out of quick mode (compilation alone takes minutes on 2 cores)."""
    names = list(cfg.engines)
    skipped: dict[str, str] = {}
    if str(cfg.device).startswith("cuda"):
        return [f"kokoro_lab_batch{b}" for b in cfg.gpu_batch_sizes] + ["kmodel"], skipped
    if bf16_capable() and "kokoro_lab_bf16" not in names:
        names.insert(2, "kokoro_lab_bf16")
    if not bf16_capable() and "kokoro_lab_bf16" in names:
        names.remove("kokoro_lab_bf16")
        skipped["kokoro_lab_bf16"] = "this CPU has no bfloat16 units"
    if quick and cfg.quick_skips_compile:
        for name in [n for n in names if n.endswith("_compile")]:
            names.remove(name)
            skipped[name] = "quick=true: torch.compile alone takes minutes (full runs measure it)"
    return names, skipped


def _run_engines(
    cfg: DictConfig, base: dict, names: list[str], quick: bool
) -> tuple[dict[str, dict], dict[str, str]]:
    """Each engine's worker in turn -> (measurements by engine, why by failed engine)."""
    engines: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for name in names:
        wcfg = {**base, "engine": name, "tune_allocator": name in TUNED}
        if m := re.fullmatch(r"kokoro_lab_batch(\d+)", name):  # at least one full batch
            b = max(int(m.group(1)), len(base["phonemes"]))
            wcfg["phonemes"] = (base["phonemes"] * b)[:b]
            wcfg["styles"] = (base["styles"] * b)[:b]
            if quick:  # a full batch is many utterances: one timed pass after the warm-up
                wcfg["repeats"], wcfg["warmup"] = 1, 1
        try:
            engines[name] = (
                _compiled_worker(wcfg, cfg.timeout_s)
                if name.endswith("_compile")
                else _worker(wcfg, cfg.timeout_s)
            )
        except (RuntimeError, subprocess.TimeoutExpired) as err:  # one engine must not sink
            log.error("%s", err)  # the others' numbers: its row says why it has none
            lines = [line for line in str(err).splitlines() if line.strip()]
            failed[name] = lines[-1][:300] if lines else type(err).__name__
    return engines, failed


def _compiled_worker(wcfg: dict, timeout: float) -> dict:
    """A compiled engine's measurements, its first call compiling from an empty inductor cache,
    plus `second_process_first_call_s`: the first call of a second process that finds the
    first one's cache (FX graph / AOT autograd caches), i.e. what a later run pays."""
    with tempfile.TemporaryDirectory(prefix="kokoro_lab_inductor_") as cache:
        first = _worker(wcfg, timeout, cache)
        second = _worker({**wcfg, "warmup": 1, "repeats": 1}, timeout, cache)
    return {**first, "second_process_first_call_s": second["first_call_s"]}


def _streaming_config(cfg: DictConfig, base: dict, quick: bool) -> dict:
    """The first-chunk latency of a long text against its first sentence alone, and joins."""
    return {
        **base,
        "engine": "first_chunk",
        "voice": cfg.voices[0],
        "long_text": " ".join(harvard_sentences(60))[: cfg.long_text_chars],
        "first_sentence": harvard_sentences(1)[0],
        "join_chars": int(cfg.quick_join_chars if quick else cfg.join_chars),
    }


def _quality_config(cfg: DictConfig, base: dict, names: list[str], quick: bool) -> dict:
    """Whisper WER (and durations, audio distance to exact) of every inference engine benchmarked,
    on quality_sentences Harvard sentences (quick: quick_quality_sentences)."""
    engines = ["exact"] + [e for e in ("int8", "bf16", "onnx") if f"kokoro_lab_{e}" in names]
    count = cfg.quick_quality_sentences if quick else cfg.quality_sentences
    return {
        **base,
        "engine": "quality",
        "voice": cfg.voices[0],
        "sentences": harvard_sentences(count),
        "paths": engines,
    }


def _machine(cfg: DictConfig, load_before: tuple[float, float, float]) -> dict:
    """`machine()` under this file's keys; threads are the workers' (cfg.threads), not ours."""
    m = machine()
    return {
        "platform": m["platform"],
        "processor": platform.processor(),
        "cpu_model": m["cpu_model"],
        "cpus": m["cpu_count"],
        "threads": int(cfg.threads),
        "python": m["python"],
        "cpu_capability": m["cpu_capability"],
        # 1-minute load average before and after: > threads means other work shared the CPU
        "load_average": [round(load_before[0], 2), round(m["load_average_1_5_15min"][0], 2)],
    }


def _rtf(engines: dict[str, dict]):
    return lambda name: engines.get(name, {}).get("rtf_median")


def _thr(engines: dict[str, dict]):
    return lambda name: engines.get(name, {}).get("throughput_audio_s_per_s")


def _ratios(engines: dict[str, dict], stream: dict, fastest: str | None) -> dict:
    """Above 1: kokoro_lab is faster (but see first_chunk_vs_first_sentence)."""
    rtf, thr = _rtf(engines), _thr(engines)
    ours_fp32 = rtf("kokoro_lab_fp32") or rtf("kokoro_lab_batch1")
    # the exact path: float32 eager or its compiled generator (durations identical, audio within
    # float rounding), whichever is faster here
    exact = min((r for r in (ours_fp32, rtf("kokoro_lab_compile")) if r), default=None)
    return {
        "fp32_vs_kmodel": _ratio(rtf("kmodel"), ours_fp32),
        "fp32_vs_kmodel_same_alloc": _ratio(rtf("kmodel_tuned_alloc"), ours_fp32),
        "fp32_vs_kmodel_compile": _ratio(rtf("kmodel_compile"), ours_fp32),
        "exact_vs_kmodel": _ratio(rtf("kmodel"), exact),
        "exact_vs_kmodel_compile": _ratio(rtf("kmodel_compile"), exact),
        "fastest_cpu_vs_ort_int8": _ratio(thr(fastest), thr("ort_int8")),
        "onnx_export_vs_kokoro_onnx": _ratio(rtf("ort_int8"), rtf("ort_export_int8")),
        "batch16_vs_batch1": _ratio(
            thr("kokoro_lab_batch16"), thr("kokoro_lab_fp32") or thr("kokoro_lab_batch1")
        ),
        # As the interface defines it: our first-chunk latency / the first sentence's
        # synthesis time (target <= 1.5); the one ratio where lower is better.
        "first_chunk_vs_first_sentence": _ratio(
            stream["first_chunk_s"], stream["first_sentence_s"]
        ),
    }


#: Beside benchmark.json: the latest CPU run of each kind of CPU (CpuFeatures.kind), KIND.json,
#: so benchmarks.md keeps a table for every kind of CPU measured, not just this machine's.
BY_CPU = "benchmarks_by_cpu"


def _write(out_dir: Path, result: dict, cfg: DictConfig) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1) + "\n"
    atomic_write(out_dir / "benchmark.json", lambda p: p.write_text(text))
    if str(cfg.device) == "cpu":
        (out_dir / BY_CPU).mkdir(exist_ok=True)
        atomic_write(out_dir / BY_CPU / f"{result['cpu_kind']}.json", lambda p: p.write_text(text))
    text = (
        render_markdown(result, cfg)
        + other_cpus_section(out_dir / BY_CPU, result.get("cpu_kind"))
        + fast_conv_section(out_dir / "fast_conv.json")
    )
    atomic_write(out_dir / "benchmarks.md", lambda p: p.write_text(text))


def other_cpus_section(folder: Path, this_kind: str | None) -> str:
    """A table per other kind of CPU measured (its latest run in `folder`), or nothing."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    runs = [r for r in runs if r.get("cpu_kind") != this_kind]
    if not runs:
        return ""
    parts = ["\n## Other kinds of CPU measured\n"]
    for r in runs:
        ratios = "\n".join(f"| {k} | {v} |" for k, v in r["ratios"].items())
        parts.append(
            f"""
### `{r.get("cpu_kind")}` (torch capability {r.get("cpu_capability")}, flags
{r.get("cpu_flags", "not recorded")}), {r["date"]}

`{r["command"]}`, {r["sentences"]} sentences, {r["machine"]["threads"]} threads;
{r.get("note", "")}

{_engine_rows(r)}

| ratio | value |
| --- | --- |
{ratios}
"""
        )
    return "".join(parts)


def _engine_rows(r: dict) -> str:
    """The per-engine table of a run (its failed and skipped engines included)."""
    nan = float("nan")
    rows = [
        "| engine | RTF (median) | CPU s per audio s | throughput (audio s / s) | peak RSS (MB) "
        "| load (s) | first call (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, e in r["engines"].items():
        rows.append(
            f"| {name} | {e['rtf_median']:.3f} | {e.get('cpu_rtf_median', nan):.3f} | "
            f"{e['throughput_audio_s_per_s']:.2f} | "
            f"{e.get('peak_rss_mb', nan):.0f} | {e['load_s']:.1f} | {e['first_call_s']:.1f} |"
        )
    for name, why in r.get("failed_engines", {}).items():
        rows.append(f"| {name} | failed: {why} | | | | | |")
    for name, why in r.get("skipped_engines", {}).items():
        rows.append(f"| {name} | not run: {why} | | | | | |")
    return "\n".join(rows)


def fast_conv_section(path: Path) -> str:
    """The per-shape fast-convolution table (scripts/measure_fast_conv.py's JSON beside the
    benchmark's), or nothing when it has not been measured."""
    if not path.exists():
        return ""
    from kokoro_lab.acceleration.measure_fast_conv import render_rows

    fast = json.loads(path.read_text())
    cpu = fast["cpu"]
    return f"""
## Fewer multiplies: the FFT route and int8, per convolution shape

`python scripts/measure_fast_conv.py {path}` ({fast["threads"]} threads, median of
{fast["repeats"]} interleaved runs; CPU capability {cpu["capability"]}, flags {cpu["flags"]}).
Speedup = F.conv1d's time / the route's (above 1: the route is faster); the FFT route at its best
block length, its weight spectrum precomputed; int8 including the per-call quantization.

{render_rows(fast)}"""


def render_markdown(r: dict, cfg: DictConfig) -> str:
    second = {
        name: (e["first_call_s"], e["second_process_first_call_s"])
        for name, e in r["engines"].items()
        if "second_process_first_call_s" in e
    }
    compiled = "; ".join(f"`{n}` {a:.1f} s, then {b:.1f} s" for n, (a, b) in second.items())
    ratios = "\n".join(f"| {k} | {v} |" for k, v in r["ratios"].items())
    s = r["streaming"]
    q = r.get("quality") or {}
    m = r["machine"]
    return f"""# Benchmarks

Measured {r["date"]} on {m["platform"]} ({m["cpus"]} CPUs, torch CPU capability
{m.get("cpu_capability")}, CPU flags {r.get("cpu_flags")} (kind `{r.get("cpu_kind")}`),
{m["threads"]} threads, Python {m["python"]}; 1-minute load average
{m.get("load_average")} before/after the run); {r["sentences"]} Harvard sentences phonemized once
(en-us), voices {list(cfg.voices)}; each engine in its own process; RTF = wall time / audio
seconds (median of the runs after warm-up; lower is faster); CPU s per audio s = user + system
CPU time of all threads per audio second (less sensitive to other load than wall time);
throughput = audio seconds per wall second.

Command: `{r["command"]}`

{_engine_rows(r)}

Compiled engines, first call in a fresh process (compiling from an empty inductor cache), then
in a second process that finds the first one's cache: {compiled or "not measured in this run"}.

Ratios (above 1: kokoro_lab is faster; except first_chunk_vs_first_sentence = our first-chunk
latency / the first sentence's synthesis time alone, target at most 1.5):

| ratio | value |
| --- | --- |
{ratios}

Streaming a {cfg.long_text_chars}-character text: first audio after {s["first_chunk_s"]:.2f} s;
its first sentence alone takes {s["first_sentence_s"]:.2f} s. Chunk joins: the largest sample jump
across a join is {s["max_join_jump"]:.4f} (the 99th percentile of sample-to-sample steps inside
chunks is {s["p99_sample_step"]:.4f}): chunks start and end in the boundary tokens' near-silence.

Quality per inference engine (Whisper tiny.en WER on {q.get("sentences")} Harvard sentences;
for the lossy engines whether every duration equals exact's and the audio's relative L2 distance
to exact's): {json.dumps(q)}. The fastest engine whose WER is within {WER_MARGIN * 100:.0f} point
of exact's: `{r.get("fastest_cpu_engine")}`.

Engines: `kokoro_lab_*` = this project's KokoroModel (weight norm folded, inference mode, tuned
glibc allocator via mallopt; `fp32` = engine=exact; `int8` = engine=int8, the generator's residual
and source blocks as oneDNN int8 convolutions (per-channel int8 weights, uint8 activations
quantized per call); `bf16` = engine=bf16, decoder convolutions under bfloat16 autocast, harmonic
source and iSTFT in float32; `onnx` = engine=onnx, onnxruntime on our int8 export (below) through
the model's forward, its excitation noise the export's fixed table; `compile` / `int8_compile` =
exact / int8 with the generator under torch.compile (acceleration/compiled.py: its
`synthesize` as one graph, float convolutions channels-last; Inductor fuses the glue: AdaIN,
Snake, masks, the activation quantization; the first-call column includes compilation from an
empty cache, the second-process column what a later process pays with that cache);
`batchB` = padded batches of B);
`kmodel` = hexgrad's `kokoro.KModel` 0.9.4 on the same weights, as its users run it;
`kmodel_tuned_alloc` = the same with
MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised; `kmodel_compile` = under torch.compile
(first-call column includes compilation); `ort_int8` = onnxruntime on the kokoro-onnx int8 file;
`ort_export_int8` = onnxruntime on our own int8 export of the same weights (scripts/export_onnx.py:
static int8 generator convolutions, the model's loudness; docs/onnx_export.md), the file engine=onnx
caches (made before the engines run, so no timing includes it).
"""
