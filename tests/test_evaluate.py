"""scripts/evaluate.py end to end: real weights, real espeak-ng, Whisper, DNSMOS and Resemblyzer;
nothing mocked. One script run (2 sentences x jf_alpha, jm_kumo and a random-noise voicepack)
is shared by the tests that read its outputs; the audio_dir and data_dir runs score WAVs and
synthesize nothing.
"""

from __future__ import annotations

import json
import math
import shutil
from functools import partial

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import compose_config, run_script
from PIL import Image

from kokoro_lab.evaluation.report import jsonable
from kokoro_lab.evaluation.sets import eval_set_from_config
from kokoro_lab.evaluation.summary import length_edges, summarize_rows, summarize_systems
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.tasks.evaluate import evaluate
from kokoro_lab.voices import VoicePack, load_voice

SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
]
REAL = ("jf_alpha", "jm_kumo")
REQUIRED = ("wer", "cer", "mos", "rtf")
PLOTS = (
    "metrics_by_system.png",
    "wer_distribution.png",
    "metrics_by_length.png",
    "sample_0001.png",
    "sample_0002.png",
)


config = partial(compose_config, "eval")


@pytest.fixture(scope="module")
def lines_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "lines.txt"
    path.write_text(f"{SENTENCES[0]}\n\n{SENTENCES[1]}\n", encoding="utf-8")  # blank: no number
    return path


@pytest.fixture(scope="module")
def noise_voice(tmp_path_factory):
    """A broken system: a voicepack of Gaussian noise with the spread of a real one."""
    real = load_voice("jf_alpha").pack
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(0)) * real.std()
    return VoicePack(noise, "noise").save(tmp_path_factory.mktemp("voices") / "noise.pt")


@pytest.fixture(scope="module")
def script_run(tmp_path_factory, lines_file, noise_voice):
    out = tmp_path_factory.mktemp("eval") / "out"
    proc = run_script(
        "evaluate.py",
        f"voices=[jf_alpha,jm_kumo,{noise_voice}]",
        f"text_file={lines_file}",
        "lang=en-us",
        f"output_dir={out}",
        "logger=none",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def infer_wavs(tmp_path_factory, lines_file):
    """The default voice's WAVs as scripts/infer.py lines=true writes them."""
    out = tmp_path_factory.mktemp("infer") / "wavs"
    proc = run_script("infer.py", f"text_file={lines_file}", "lines=true", f"output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _ljspeech(folder, wavs) -> None:
    """An LJSpeech-layout copy of numbered WAVs: metadata.csv `id|text|normalized`."""
    (folder / "wavs").mkdir(parents=True)
    rows = []
    for i, text in enumerate(SENTENCES, 1):
        shutil.copy(wavs / f"{i:04d}.wav", folder / "wavs" / f"utt_{i}.wav")
        rows.append(f"utt_{i}|{text}|{text}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def check_png(path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert width >= 400 and height >= 300, (path, image.size)
    assert pixels.std() > 10, f"{path} looks blank"


# --- config and aggregation (no models) ------------------------------------------------------


def test_config_composes_with_harvard_default_and_offline_wandb():
    cfg = config()
    eval_set = eval_set_from_config(cfg)
    assert len(eval_set) == 20 and eval_set.source["kind"] == "harvard"
    assert eval_set.items[0].text == "The birch canoe slid on the smooth planks."
    assert cfg.logger._target_.endswith("WandbLogger") and cfg.logger.offline is True
    assert cfg.logger.save_dir == cfg.output_dir
    assert not config("logger=none").get("logger")
    assert len(eval_set_from_config(config("num_sentences=5"))) == 5


def _row(system, n_phonemes, word_errors, words, mos=3.0):
    return {
        "system": system,
        "n_phonemes": n_phonemes,
        "word_errors": word_errors,
        "words": words,
        "char_errors": word_errors,
        "chars": 5 * words,
        "mos": mos,
        "synthesis_s": 1.0,
        "duration_s": 2.0,
        "speech_s": 1.5,
        "peak_rss_mb": 10.0,
    }


def test_summary_pools_errors_and_buckets_by_length():
    rows = [_row("a", 20, 1, 4, 2.0), _row("a", 30, 0, 6, 4.0), _row("a", 40, 3, 10, 3.0)]
    s = summarize_rows(rows)
    assert s["wer"] == pytest.approx(4 / 20)  # pooled, not the mean of 0.25, 0, 0.3
    assert s["mos"] == pytest.approx(3.0) and s["rtf"] == pytest.approx(0.5)
    lo, hi = s["wer_ci95"]
    assert 0 <= lo <= s["wer"] <= hi <= 0.3
    assert length_edges([20, 30, 40], [25, 35]) == [25, 35]
    summary, cuts = summarize_systems(rows, ["a"], [25, 35])
    assert list(summary["a"]["by_length"]) == ["20-25", "26-35", "36-40"]
    assert summary["a"]["by_length"]["36-40"]["wer"] == pytest.approx(0.3)
    assert len(length_edges(list(range(26, 48)), 3)) == 2
    assert jsonable({"x": math.nan, "y": [math.inf, 1.0]}) == {"x": None, "y": [None, 1.0]}


def test_bad_inputs_are_refused_clearly(tmp_path, lines_file):
    with pytest.raises(ValueError, match="not both"):
        evaluate(config(f"text_file={lines_file}", f"data_dir={tmp_path}", "logger=none"))
    with pytest.raises(ValueError, match="audio_dir"):
        evaluate(config("name=x", f"output_dir={tmp_path}", "logger=none"))
    partial = tmp_path / "partial"
    partial.mkdir()
    sf.write(partial / "0001.wav", np.zeros(2400, np.float32), 24_000)  # no 0002.wav
    with pytest.raises(FileNotFoundError, match="0002.wav"):
        evaluate(config(f"audio_dir={partial}", f"text_file={lines_file}", "logger=none"))
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        evaluate(config(f"data_dir={tmp_path}", "logger=none"))


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_script_writes_metrics_report_and_plots(script_run):
    proc, out, metrics = script_run
    systems = metrics["systems"]
    assert list(systems) == [*REAL, "noise"]
    for name, s in systems.items():
        for key in REQUIRED:
            assert isinstance(s[key], float) and math.isfinite(s[key]), (name, key)
            assert key in metrics["definitions"]
        assert s["mos_predictor"] == "dnsmos_ovrl" == metrics["predictors"]["mos"]["name"]
        assert s["n_utterances"] == 2 and s["rtf"] > 0
        assert "speaker_sim" not in s  # no references in a text file
        assert set(s) <= set(metrics["definitions"]), set(s) - set(metrics["definitions"])
        produced = s["produced_by"]
        assert produced["checkpoint"] == "embedded" and len(produced["checkpoint_sha256"]) == 64
        assert produced["voice"] == name and produced["lang"] == "en-us"
        assert {b: v["n_utterances"] for b, v in s["by_length"].items()}
    assert metrics["config"]["voices"][:2] == list(REAL)
    assert metrics["eval_set"]["kind"] == "text_file" and metrics["eval_set"]["n_utterances"] == 2
    rows = metrics["utterances"]
    assert len(rows) == 6 and {r["text"] for r in rows} == set(SENTENCES)
    assert set(rows[0]) <= set(metrics["utterance_definitions"])
    report = (out / "report.md").read_text()
    assert "| system | n | WER %" in report and "MOS (DNSMOS OVRL)" in report
    assert all(f"| {name} |" in report for name in systems)
    assert "| system | n | WER %" in proc.stdout  # the table is printed too
    for name in PLOTS:
        check_png(out / name)
        assert f"({name})" in report
    for name in systems:  # the synthesized audio, numbered like scripts/infer.py
        assert sorted(p.name for p in (out / "audio" / name).iterdir()) == ["0001.wav", "0002.wav"]


@pytest.mark.slow
def test_broken_voice_scores_clearly_worse(script_run):
    """The metrics can fail: a noise voicepack is unintelligible and sounds bad."""
    _, _, metrics = script_run
    systems, rows = metrics["systems"], metrics["utterances"]
    noise = systems["noise"]
    print({n: (round(s["wer"], 3), round(s["mos"], 2)) for n, s in systems.items()})
    assert noise["wer"] >= 0.6
    for name in REAL:
        assert systems[name]["wer"] <= 0.4
        assert noise["wer"] >= systems[name]["wer"] + 0.4
        assert noise["mos"] <= systems[name]["mos"] - 1.0
    worst_real = max(r["wer"] for r in rows if r["system"] in REAL)
    assert min(r["wer"] for r in rows if r["system"] == "noise") > worst_real


@pytest.mark.slow
def test_audio_dir_mode_scores_infer_wavs_with_offline_wandb(
    script_run, infer_wavs, lines_file, tmp_path
):
    """WAVs from scripts/infer.py lines=true (the default voice) are the same bits the evaluation
    synthesized for that voice, so they score the same; the wandb run lands offline under
    output_dir."""
    _, _, synthesized = script_run
    out = tmp_path / "out"
    result = evaluate(
        config(
            f"audio_dir={infer_wavs}",
            "name=kokoro_wavs",
            f"text_file={lines_file}",
            f"output_dir={out}",
            "logger=wandb",
        )
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(jsonable(result.metrics)))
    (system,) = metrics["systems"]
    assert system == "kokoro_wavs"
    scored = metrics["systems"]["kokoro_wavs"]
    reference = synthesized["systems"][DEFAULT_VOICE]
    assert scored["produced_by"]["kind"] == "audio_dir" and scored["rtf"] is None
    assert scored["wer"] == reference["wer"] and scored["cer"] == reference["cer"]
    assert scored["mos"] == pytest.approx(reference["mos"], abs=1e-4)
    for name in ("metrics_by_system.png", "wer_distribution.png", "sample_0001.png"):
        check_png(out / name)
    (run,) = (out / "wandb").glob("offline-run-*")
    assert list(run.glob("*.wandb"))
    media = [p.name for p in (run / "files" / "media").rglob("*") if p.is_file()]
    assert any(m.endswith(".wav") for m in media) and any(m.endswith(".png") for m in media)


@pytest.mark.slow
def test_data_dir_reference_metrics(script_run, tmp_path):
    """References = jm_kumo's WAVs: the same WAVs score MCD 0, F0 RMSE 0, similarity 1;
    jf_alpha's score a different speaker."""
    _, synth_out, _ = script_run
    refs = tmp_path / "lj"
    _ljspeech(refs, synth_out / "audio" / "jm_kumo")
    same = evaluate(
        config(
            f"data_dir={refs}",
            f"audio_dir={synth_out / 'audio' / 'jm_kumo'}",
            "name=same",
            f"output_dir={tmp_path / 'same'}",
            "logger=none",
            "num_samples=1",
        )
    ).metrics["systems"]
    assert list(same) == ["same", "reference"]
    s = same["same"]
    assert s["mcd_db"] == pytest.approx(0.0, abs=1e-6)
    assert s["f0_rmse_cents"] == pytest.approx(0.0, abs=1e-6) and s["vuv_error"] == 0.0
    assert s["speaker_sim_paired"] == pytest.approx(1.0, abs=1e-5)
    assert s["speaker_sim"] > 0.9 and s["wer"] == same["reference"]["wer"]
    assert "mcd_db" in json.loads((tmp_path / "same" / "metrics.json").read_text())["definitions"]
    check_png(tmp_path / "same" / "sample_utt_1.png")
    other = evaluate(
        config(
            f"data_dir={refs}",
            f"audio_dir={synth_out / 'audio' / 'jf_alpha'}",
            "name=other",
            "score_references=false",
            f"output_dir={tmp_path / 'other'}",
            "logger=none",
            "num_samples=0",
        )
    ).metrics["systems"]
    assert list(other) == ["other"]
    o = other["other"]
    assert o["speaker_sim"] < s["speaker_sim"] - 0.1  # a female voice against a male reference
    assert o["mcd_db"] > 2.0 and o["f0_rmse_cents"] > 300  # about an octave apart


#: Per-utterance fields that are timings or memory: they differ between any two runs.
TIMING = ("synthesis_s", "rtf", "peak_rss_mb", "scoring_s")


@pytest.mark.slow
def test_two_gloo_processes_give_the_metrics_of_one(script_run, lines_file, tmp_path):
    """The real voices of `script_run` (1 process) scored again by 2 processes (gloo): the same
    rows in the same order, WER and CER identical, MOS within 0.01. Each process runs torch
    with the thread count `script_run` had, so the audio is the same bits: with another thread
    count it differs by float rounding, and Whisper's transcript of a word can flip on that
    (measured: 5 of 40 transcripts with 1 thread against 2, docs/synthesis.md). The full-size
    check (2 voices x 20 sentences) is recorded in docs/synthesis.md."""
    _, _, one = script_run
    out = tmp_path / "two"
    proc = run_script(
        "evaluate.py",
        "voices=[jf_alpha,jm_kumo]",
        f"text_file={lines_file}",
        "lang=en-us",
        f"output_dir={out}",
        "logger=none",
        "trainer=synthesis_ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        f"threads={torch.get_num_threads()}",  # the reference's (torch's default here)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stdout + proc.stderr
    two = json.loads((out / "metrics.json").read_text())
    assert two["environment"]["processes"] == 2 and list(two["systems"]) == list(REAL)
    for name in REAL:
        a, b = one["systems"][name], two["systems"][name]
        assert (a["wer"], a["cer"], a["n_utterances"]) == (b["wer"], b["cer"], b["n_utterances"])
        assert b["mos"] == pytest.approx(a["mos"], abs=0.01)
    rows_one = [r for r in one["utterances"] if r["system"] in REAL]
    assert [(r["system"], r["id"]) for r in two["utterances"]] == [
        (r["system"], r["id"]) for r in rows_one
    ]
    for a, b in zip(rows_one, two["utterances"]):
        assert a["transcript"] == b["transcript"] and a["wer"] == b["wer"]
        assert b["mos"] == pytest.approx(a["mos"], abs=0.01)
        assert set(a) == set(b) and all(k in a for k in TIMING if k != "scoring_s")
    for name in REAL:  # each rank wrote the audio it rendered
        assert sorted(p.name for p in (out / "audio" / name).iterdir()) == ["0001.wav", "0002.wav"]
