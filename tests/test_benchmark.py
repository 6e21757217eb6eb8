"""scripts/benchmark.py on a reduced set: real engines (ours, hexgrad's KModel, onnxruntime on
the int8 file) each in its own process, one sentence, one timed run, the quality of the int8
engine on two sentences; checks the JSON contract and that the numbers are measured, not
placeholders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import run_script

from kokoro_lab.acceleration.cpu_features import cpu_features

REPO = Path(__file__).resolve().parents[1]

RATIOS = (
    "fp32_vs_kmodel",
    "fp32_vs_kmodel_same_alloc",
    "fp32_vs_kmodel_compile",
    "exact_vs_kmodel",
    "exact_vs_kmodel_compile",
    "fastest_cpu_vs_ort_int8",
    "onnx_export_vs_kokoro_onnx",
    "batch16_vs_batch1",
    "first_chunk_vs_first_sentence",
)


@pytest.mark.slow
def test_benchmark_writes_table_and_json(tmp_path):
    proc = run_script(
        "benchmark.py",
        "quick=true",
        "quick_sentences=1",
        "quick_repeats=1",
        "warmup=1",
        "quick_quality_sentences=2",
        "long_text_chars=400",
        "engines=[kokoro_lab_fp32,kokoro_lab_int8,kokoro_lab_onnx,kokoro_lab_compile,kmodel,ort_int8,"
        "ort_export_int8]",
        f"output_dir={tmp_path}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "benchmark.json").read_text())
    features = cpu_features()
    ran = {"kokoro_lab_fp32", "kokoro_lab_int8", "kokoro_lab_onnx", "kmodel", "ort_int8"}
    ran.add("ort_export_int8")
    assert set(result["engines"]) == ran | ({"kokoro_lab_bf16"} if features.bf16 else set())
    assert "kokoro_lab_compile" in result["skipped_engines"]  # quick mode: no compilation
    assert result["cpu_capability"] == features.capability
    assert result["cpu_flags"] == list(features.flags) and result["cpu_kind"] == features.kind
    for name, e in result["engines"].items():
        for key in ("rtf_median", "throughput_audio_s_per_s", "peak_rss_mb", "cpu_rtf_median"):
            assert math.isfinite(e[key]) and e[key] > 0, (name, key, e[key])
        # one sentence of about 2-3 s of audio, the same phonemes for every engine
        assert 1.5 < e["audio_s_per_run"] < 4.0, (name, e["audio_s_per_run"])
        assert e["peak_rss_mb"] > 200  # a whole 82M-parameter model lives in the process
    # every engine spoke the same sentence: audio lengths agree within 3 % (ORT's export rounds
    # durations slightly differently)
    lengths = [e["audio_s_per_run"] for e in result["engines"].values()]
    assert max(lengths) / min(lengths) < 1.03
    assert set(result["ratios"]) == set(RATIOS)
    ratios = result["ratios"]
    assert ratios["fp32_vs_kmodel"] > 0 and ratios["fastest_cpu_vs_ort_int8"] > 0
    assert ratios["onnx_export_vs_kokoro_onnx"] > 0  # our export, made by the run itself
    assert ratios["fp32_vs_kmodel_compile"] is None  # not measured in this run: no number
    assert ratios["exact_vs_kmodel"] == ratios["fp32_vs_kmodel"]  # exact = fp32 without compile
    quality = result["quality"]
    assert quality["sentences"] == 2 and quality["durations_equal_int8"] is True
    assert 0 <= quality["wer_int8"] <= 1 and 0 < quality["audio_rel_l2_int8"] < 0.5
    assert quality["durations_equal_onnx"] is True and 0 <= quality["wer_onnx"] <= 1
    assert result["fastest_cpu_engine"] in result["engines"]
    assert 0 < ratios["first_chunk_vs_first_sentence"] < 10
    stream = result["streaming"]
    assert stream["chunks"] >= 2 and stream["max_join_jump"] < 0.1
    table = (tmp_path / "benchmarks.md").read_text()
    assert "| kokoro_lab_fp32 |" in table and "| kmodel |" in table and "fp32_vs_kmodel" in table
    # this kind of CPU's latest run is kept beside the others, and only the others get a section
    kept = json.loads((tmp_path / "benchmarks_by_cpu" / f"{features.kind}.json").read_text())
    assert kept == result
    assert "## Other kinds of CPU measured" not in table


def test_every_other_kind_of_cpu_keeps_its_table(tmp_path):
    from kokoro_lab.tasks.benchmark import other_cpus_section

    run = json.loads((REPO / "docs" / "benchmark.json").read_text())
    for kind, rtf in (("avx2", 0.7), ("amx", 0.05), ("avx512_bf16_vnni", 0.1)):
        engines = {"kokoro_lab_fp32": {**run["engines"]["kokoro_lab_fp32"], "rtf_median": rtf}}
        other = {**run, "cpu_kind": kind, "engines": engines}
        (tmp_path / f"{kind}.json").write_text(json.dumps(other))
    section = other_cpus_section(tmp_path, "avx512_bf16_vnni")
    assert section.count("\n### ") == 2 and "### `amx`" in section and "### `avx2`" in section
    assert "| kokoro_lab_fp32 | 0.700 |" in section and "| kokoro_lab_fp32 | 0.050 |" in section
    assert "0.100" not in section  # this machine's own run is the main table, not a section
    assert other_cpus_section(tmp_path / "none", "avx2") == ""
