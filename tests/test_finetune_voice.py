"""Voicepack fine-tuning: table building, bad rows, the fit moving toward the target, and
scripts/finetune_voice.py end to end on a tiny real folder (clips rendered by our pipeline with
jf_nezumi, written at 22.05 kHz, plus bad rows), with wandb offline. Step counts are tiny: the
30-clip runs are measurements (docs/finetune_voice.md), not tests.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import compose_config, run_script

from kokoro_lab.data.metadata import read_metadata
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.voice_fitting.data import (
    COLUMNS,
    TARGET_LEVEL_DB,
    active_level_db,
    load_speaker_folder,
    normalize_loudness,
)
from kokoro_lab.voice_fitting.durations import align, duration_error
from kokoro_lab.voice_fitting.prior import StylePrior
from kokoro_lab.voice_fitting.synthetic import render_speaker_folder
from kokoro_lab.voice_fitting.table import anchor_rows, build_table, interpolation_weights
from kokoro_lab.voices import VoicePack, load_voice

TARGET, START = "jf_nezumi", "jm_kumo"


@pytest.fixture(autouse=True)
def _threads():
    """One torch thread, restored after the test: on a shared 2-core machine under load, two
    threads made these fits about 8x slower (docs/finetune_voice.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the table -------------------------------------------------------------------------------


def test_single_anchor_table_is_init_plus_offset():
    init = load_voice(START).pack
    offset = torch.randn(1, 256)
    table = build_table(init, offset, [40])
    assert table.shape == (510, 1, 256) and table.dtype == torch.float32
    torch.testing.assert_close(table, init + offset[:, None, :].expand(510, 1, 256))


def test_anchors_fit_their_rows_and_fill_the_rest_linearly():
    init = torch.zeros(510, 1, 256)
    a, b = torch.full((256,), 1.0), torch.full((256,), 3.0)
    table = build_table(init, torch.stack([a, b]), [10, 50])
    torch.testing.assert_close(table[10, 0], a)  # seen lengths: the fitted rows
    torch.testing.assert_close(table[50, 0], b)
    torch.testing.assert_close(table[30, 0], (a + b) / 2)  # between: linear
    torch.testing.assert_close(table[0, 0], a)  # beyond: constant
    torch.testing.assert_close(table[509, 0], b)
    steps = (table[1:, 0, 0] - table[:-1, 0, 0]).abs()
    assert float(steps.max()) <= 2.0 / 40 + 1e-6  # smooth: no jump between neighbouring rows
    w = interpolation_weights(torch.arange(510), [10, 50, 200])
    torch.testing.assert_close(w.sum(1), torch.ones(510))


def test_anchor_rows_are_seen_lengths():
    assert anchor_rows([30, 40, 50], 1) == [39]
    rows = anchor_rows(list(range(20, 61)), 3)
    assert len(rows) == 3 and all(19 <= r <= 59 for r in rows)


def test_prior_prefers_real_rows_to_noise():
    packs = [load_voice(v).pack for v in ("jf_alpha", "jf_gongitsune", "jm_kumo")]
    prior = StylePrior(packs)
    real = load_voice("jf_nezumi").pack[30:60, 0]  # a voice the prior never saw
    noise = torch.randn(30, 256) * real.std()
    assert float(prior.penalty(real)) < 0.2 * float(prior.penalty(noise))


# -- data ------------------------------------------------------------------------------------


def test_loudness_normalization_hits_the_target_level():
    t = np.arange(24_000) / 24_000
    quiet = (0.01 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    assert abs(active_level_db(normalize_loudness(quiet)) - TARGET_LEVEL_DB) < 0.1


def test_bad_rows_are_reported_and_skipped(tmp_path):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    t = np.arange(16_000) / 16_000  # 1 s at 16 kHz: resampled to 24 kHz
    sf.write(wavs / "good.wav", 0.3 * np.sin(2 * np.pi * 180 * t), 16_000)
    sf.write(wavs / "short.wav", np.zeros(800), 16_000)  # 0.05 s: absurd
    (wavs / "broken.wav").write_bytes(b"not a wav file at all")
    sf.write(wavs / "notext.wav", np.zeros(16_000), 16_000)
    (tmp_path / "metadata.csv").write_text(
        "good|Hi there.|Hi there.\n"
        "missing|A file that is not there.\n"
        "notext|\n"
        "broken|Some text.\n"
        "short|Some text.\n",
        encoding="utf-8",
    )
    clips, bad = load_speaker_folder(tmp_path)
    assert [c.id for c in clips] == ["good"]
    assert clips[0].audio.shape[-1] % 600 == 0 and clips[0].f0.shape[-1] == 2 * clips[0].frames
    reasons = {(os.path.basename(b.file), b.row): b.reason for b in bad}
    assert set(reasons) == {
        ("missing.wav", 2),
        ("notext.wav", 3),
        ("broken.wav", 4),
        ("short.wav", 5),
    }
    assert reasons[("missing.wav", 2)] == "missing file"
    assert reasons[("notext.wav", 3)] == "empty text"
    assert reasons[("broken.wav", 4)].startswith("unreadable audio")
    assert reasons[("short.wav", 5)].startswith("absurd duration")


def test_normalized_text_column_is_spoken(tmp_path):
    (tmp_path / "wavs").mkdir()
    sf.write(tmp_path / "wavs" / "a.wav", np.zeros(24_000), 24_000)
    (tmp_path / "metadata.csv").write_text("a|Dr. No, 1962|Doctor No, nineteen sixty-two\n")
    rows, bad = read_metadata(tmp_path, COLUMNS)
    assert bad == [] and rows[0].text == "Doctor No, nineteen sixty-two"


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        load_speaker_folder(tmp_path)


# -- fitting on real audio -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, real_model):
    """3 Harvard sentences spoken by TARGET at 22.05 kHz, plus a missing file and an empty text."""
    folder = tmp_path_factory.mktemp("speaker")
    pipe = Pipeline(real_model, load_voice(TARGET), lang="en-us", seed=0, g2p="espeak")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: set up before the autouse fixture
    try:
        truth = render_speaker_folder(pipe, harvard_sentences(3), folder, sample_rate=22_050)
    finally:
        torch.set_num_threads(threads)
    with open(folder / "metadata.csv", "a", encoding="utf-8") as f:
        f.write("0009|This clip was never recorded.\n0001|\n")
    return folder, truth


@pytest.mark.slow
def test_fit_moves_the_style_toward_the_target(tiny_folder, real_model):
    """The prosody-only fit (cheap) from START (male) to TARGET's recordings (female) brings the F0
    loss down by half and the total loss down; a few decoder steps on one crop lower the
    spectral losses. The network's weights get no gradient."""
    from kokoro_lab.lightning.voice_fitting import VoicepackFit

    torch.manual_seed(0)
    folder, truth = tiny_folder
    clips, bad = load_speaker_folder(folder)
    assert len(clips) == 3 and len(bad) == 2
    init = load_voice(START)
    for clip in clips:
        clip.durations = align(real_model, clip.tokens, init.select(clip.num_phonemes), clip.frames)
        err = duration_error(clip.durations, torch.tensor(truth[clip.id]))
        assert err["token_mae_frames"] < 2.0  # the rescaled predictor is a usable aligner
    anchors = anchor_rows([c.num_phonemes for c in clips], 1)
    prior = StylePrior([load_voice(v).pack for v in ("jf_alpha", "jm_kumo", "jf_tebukuro")])
    no_decoder = {"stft": 0.0, "mel": 0.0, "mel_mean": 0.0}
    fit = VoicepackFit(real_model, clips, init.pack, prior, anchors, lr=0.1, weights=no_decoder)
    parts = fit.fit_prosody(steps=30, clips_per_step=1, lr=0.1, seed=0)
    first, last = parts[:6], parts[-6:]
    # the F0 level moves from the male start voice's to the target's, and the loss falls
    assert np.mean([p["f0"] for p in last]) < 0.5 * np.mean([p["f0"] for p in first])
    assert np.mean([p["total"] for p in last]) < 0.7 * np.mean([p["total"] for p in first])
    # only the prosody half moved; the network is frozen
    assert fit.prosody_offsets.abs().sum() > 0 and not fit.decoder_offsets.any()
    assert all(not p.requires_grad for p in real_model.parameters())

    fit.weights = {**fit.weights, "stft": 1.0, "mel": 1.0, "mel_mean": 1.0}
    opt = torch.optim.Adam([fit.decoder_offsets], lr=0.03)
    spectral = []
    for _ in range(6):
        out = fit.decoder_losses(
            0, fit.style(clips[0]), fit.prosody(0, fit.style(clips[0]))[3], 10, 12
        )
        loss = out["stft"] + out["mel"] + out["mel_mean"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        spectral.append(float(loss))
    assert spectral[-1] < spectral[0]


TINY = (
    "steps=2",
    "prosody_steps=3",
    "crop_seconds=0.3",
    "val_every=1",
    "checkpoint_every=1",
    "lang=en-us",
)


@pytest.mark.slow
def test_script_end_to_end_then_resume(tiny_folder, tmp_path):
    folder, _ = tiny_folder
    out = tmp_path / "out"
    proc = run_script(
        "finetune_voice.py",
        f"data_dir={folder}",
        "name=tiny",
        f"init_voice={START}",
        f"output_dir={out}",
        *TINY,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pack = torch.load(out / "tiny.pt", weights_only=True)
    assert isinstance(pack, torch.Tensor) and list(pack.shape) == [510, 1, 256]
    assert pack.dtype == torch.float32 and bool(torch.isfinite(pack).all())
    voice = VoicePack.load(out / "tiny.pt")
    assert voice.release == "v1.0"
    audio, sr = sf.read(out / "tiny.wav")
    assert sr == 24_000 and len(audio) > 12_000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["clips"] == 3 and metrics["steps"] == 2
    assert metrics["prosody_fit"]["steps"] == 3 and metrics["prosody_fit"]["losses_first_10"]
    assert {(os.path.basename(b["file"]), b["row"]) for b in metrics["bad_rows"]} == {
        ("0009.wav", 4),
        ("0001.wav", 5),
    }
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert list((out / "wandb").glob("offline-run-*"))
    assert list((out / "cache").glob("f0-*.pt"))  # pyin cached

    # a killed run resumes: the same output_dir with more steps continues from last.ckpt
    from kokoro_lab.tasks.finetune_voice import finetune_voice

    cfg = compose_config(
        "finetune_voice",
        f"data_dir={folder}",
        "name=tiny",
        f"init_voice={START}",
        f"output_dir={out}",
        *TINY[1:],
        "steps=3",
        "logger=none",
    )
    result = finetune_voice(cfg)
    assert result.metrics["resumed_from"].endswith("last.ckpt")
    assert not result.metrics["prosody_fit"]["losses_first_10"]  # the checkpoint holds that half
    assert len(json.loads((out / "metrics.json").read_text())["losses_first_10"]) > 0

    # the result speaks through scripts/infer.py's task (voice_path=OUT/NAME.pt)
    from kokoro_lab.tasks.infer import infer

    wav = tmp_path / "hello.wav"
    infer(compose_config("infer", f"voice_path={out / 'tiny.pt'}", "text=Hello.", f"output={wav}"))
    assert sf.info(wav).samplerate == 24_000


def test_bad_arguments_exit_2(tmp_path):
    proc = run_script(
        "finetune_voice.py",
        f"data_dir={tmp_path}",
        "name=x",
        f"output_dir={tmp_path / 'o'}",
        "logger=none",
    )
    assert proc.returncode == 2 and "metadata.csv" in proc.stderr
