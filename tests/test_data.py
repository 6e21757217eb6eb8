"""Data: features, the cached manifest with bad rows, the resumable bucketed sampler, the
datamodule. The synthetic dataset is rendered once per machine into the kokoro_lab cache."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SYNTHETIC

from kokoro_lab.audio.features import (
    FeatureSettings,
    LogMelSpectrogram,
    clip_features,
    energy_from_log_mel,
)
from kokoro_lab.data.datamodule import KokoroDataModule
from kokoro_lab.data.dataset import (
    Manifest,
    SpeechDataset,
    attach_reference_durations,
    collate,
    predicted_durations,
    prepare_manifest,
)
from kokoro_lab.data.metadata import read_metadata
from kokoro_lab.data.sampler import BucketBatchSampler
from kokoro_lab.modules.length_regulator import rescale_durations


def test_synthetic_dataset_layout(synthetic_data):
    rows, bad = read_metadata(synthetic_data)
    assert len(rows) == 16 and not bad
    assert {r.speaker for r in rows} == {"jf_alpha"}
    durations = json.loads((synthetic_data / "durations.json").read_text())
    info = sf.info(rows[0].wav)
    assert info.samplerate == 24_000
    assert sum(durations[rows[0].id]["durations"][0]) * 600 == info.frames


def test_features_line_up_with_kokoro_frames(synthetic_data):
    audio, _ = sf.read(synthetic_data / "wavs" / "jf_alpha_0000.wav", dtype="float32")
    settings = FeatureSettings()
    feats = clip_features(audio, settings, LogMelSpectrogram(settings))
    f = len(audio) // 600
    assert feats["audio"].shape == (600 * f,)
    assert feats["mel"].shape == (80, 2 * f) and feats["f0"].shape == (2 * f,)
    voiced = feats["f0"][feats["f0"] > 0]
    assert len(voiced) > f // 2 and 120 < float(voiced.median()) < 450  # a female voice
    # energy N is log ||mel power||_2 over bins (StyleTTS 2's log_norm)
    direct = torch.log(torch.linalg.vector_norm(feats["mel"].exp(), dim=0))
    assert torch.allclose(energy_from_log_mel(feats["mel"][None])[0], direct, atol=1e-4)


def test_settings_hash_names_the_cache():
    assert FeatureSettings().digest() == FeatureSettings().digest()
    assert FeatureSettings().digest() != FeatureSettings(f0_max=700.0).digest()


def _write(path, audio, rate=24_000):
    sf.write(path, audio, rate, subtype="PCM_16")


def test_manifest_caches_resamples_and_reports_bad_rows(synthetic_data, tmp_path):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    rows, _ = read_metadata(synthetic_data)
    good = rows[:2]
    for r in good:
        shutil.copy(r.wav, wavs / r.wav.name)
    # the same clip at 48 kHz: resampled to 24 kHz on reading
    audio, _ = sf.read(good[0].wav, dtype="float32")
    import librosa

    _write(wavs / "hi_rate.wav", librosa.resample(audio, orig_sr=24_000, target_sr=48_000), 48_000)
    _write(wavs / "short.wav", audio[:2400])  # 0.1 s: fewer frames than tokens
    _write(wavs / "silent.wav", np.zeros(48_000, dtype=np.float32))
    (wavs / "corrupt.wav").write_bytes(b"RIFF not really a wave file")
    lines = [f"{r.id}|{r.text}|spk" for r in good] + [
        f"hi_rate|{good[0].text}|spk",
        f"short|{good[0].text}|spk",
        "silent|Silence is golden.|spk",
        "corrupt|A broken file.|spk",
        "missing|No audio for this row.|spk",
        "empty_text||spk",
        "only_punct|...|spk",
    ]
    for name in ("only_punct", "empty_text"):
        _write(wavs / f"{name}.wav", audio)
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest = prepare_manifest(tmp_path)
    ids = [e["id"] for e in manifest.entries]
    assert ids == [good[0].id, good[1].id, "hi_rate"]
    reasons = {Path(b.file).stem: b.reason for b in manifest.bad_rows}
    assert {b.row for b in manifest.bad_rows} == {4, 5, 6, 7, 8, 9}  # 1-based metadata lines
    assert set(reasons) == {"short", "silent", "corrupt", "missing", "empty_text", "only_punct"}
    assert "too short" in reasons["short"] and "unreadable" in reasons["corrupt"]
    assert (manifest.cache_dir / "bad_rows.tsv").is_file()
    assert abs(manifest.entries[2]["frames"] - manifest.entries[0]["frames"]) <= 1
    # computed once: a second call reuses the cached files
    stamp = (manifest.cache_dir / f"{good[0].id}.pt").stat().st_mtime_ns
    again = prepare_manifest(tmp_path)
    assert [e["id"] for e in again.entries] == ids
    assert (manifest.cache_dir / f"{good[0].id}.pt").stat().st_mtime_ns == stamp
    # a new setting is a new cache
    other = prepare_manifest(tmp_path, settings=FeatureSettings(f0_max=500.0))
    assert other.cache_dir != manifest.cache_dir


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_sampler_is_seeded_covers_every_clip_and_buckets_by_length():
    lengths = list(np.random.default_rng(0).integers(40, 400, size=37))
    s = BucketBatchSampler(lengths, 4, seed=3, bucket_batches=2)
    e0, e0_again, e1 = _epoch(s, 0), _epoch(s, 0), _epoch(s, 1)
    assert e0 == e0_again and e0 != e1
    assert len(e0) == len(s) == 10
    flat = [i for b in e0 for i in b]
    assert set(flat) == set(range(37)) and len(flat) == 40  # the last batch wraps around
    windows = [sorted(lengths[i] for i in b) for b in e0]
    spread = np.mean([w[-1] - w[0] for w in windows])
    assert spread < np.mean(
        [
            np.ptp(np.array(lengths)[list(b)])
            for b in np.array_split(np.random.default_rng(1).permutation(37), 10)
        ]
    )
    assert BucketBatchSampler(lengths, 4, seed=4).global_batches(0) != s.global_batches(0)


def test_sampler_ranks_split_the_global_batches_of_one_process():
    lengths = list(range(50, 90))
    one = BucketBatchSampler(lengths, 4, seed=1)
    ranks = [BucketBatchSampler(lengths, 2, num_replicas=2, rank=r, seed=1) for r in (0, 1)]
    for epoch in (0, 1):
        together = _epoch(one, epoch)
        split = list(zip(*[_epoch(r, epoch) for r in ranks]))
        assert [a + b for a, b in split] == together


def test_sampler_resumes_mid_epoch_and_at_epoch_end():
    lengths = list(range(60, 100))
    s = BucketBatchSampler(lengths, 4, seed=2)
    s.set_epoch(1)
    full = list(s)
    state = s.state_dict(consumed=3)
    resumed = BucketBatchSampler(lengths, 4, seed=2)
    resumed.load_state_dict(state)
    assert list(resumed) == full[3:]
    resumed.set_epoch(1)  # Lightning sets the same epoch again: the skip is already spent
    assert list(resumed) == full
    resumed.set_epoch(2)
    assert list(resumed) == _epoch(BucketBatchSampler(lengths, 4, seed=2), 2)
    end = BucketBatchSampler(lengths, 4, seed=2)
    end.load_state_dict({"epoch": 1, "consumed": len(full)})
    assert end.epoch == 2 and list(end) == _epoch(BucketBatchSampler(lengths, 4, seed=2), 2)


def test_datamodule_splits_and_batches(synthetic_data):
    dm = KokoroDataModule(synthetic=SYNTHETIC, batch_size=3, val_size=2, val_batch_size=2)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 14 and len(dm.val_set) == 2
    assert not {e["id"] for e in dm.train_set.entries} & {e["id"] for e in dm.val_set.entries}
    batch = next(iter(dm.train_dataloader()))
    b, t = batch["tokens"].shape
    assert b == 3 and batch["token_valid"].shape == (b, t)
    f2 = batch["mel"].shape[-1]
    assert batch["mel"].shape == (b, 80, f2) and batch["f0"].shape == (b, f2)
    assert batch["audio"].shape == (b, 300 * f2)
    for i in range(b):
        n_tok = int(batch["token_valid"][i].sum())
        assert batch["tokens"][i, 0] == 0 and batch["tokens"][i, n_tok - 1] == 0  # boundary pads
        assert int(batch["mel_valid"][i].sum()) % 2 == 0
    val = next(iter(dm.val_dataloader()))
    assert val["tokens"].shape[0] == 2
    long_only = KokoroDataModule(synthetic=SYNTHETIC, min_frames=130, val_size=0)
    long_only.setup()
    assert 0 < len(long_only.train_set) < 16


def test_collate_pads_and_keeps_reference_durations(synthetic_data):
    manifest = prepare_manifest(synthetic_data)
    entries = [
        dict(e, ref_durations=[1] * (e["tokens"] - 1) + [e["frames"] - e["tokens"] + 1])
        for e in manifest.entries[:2]
    ]
    ds = SpeechDataset(manifest.cache_dir, entries, manifest.speakers)
    batch = collate([ds[0], ds[1]])
    assert batch["ref_durations"].shape == batch["tokens"].shape
    assert batch["ref_durations"].sum(-1).tolist() == [e["frames"] for e in entries]


def test_pretrained_reference_durations_come_from_the_injected_model(
    synthetic_data, real_model, tmp_path
):
    """`reference_durations=pretrained` asks the model it is given (the training task passes the
    run's initial model). The default run's, the embedded weights unfolded for training, gives
    exactly what the folded inference model gave when the data layer loaded its own; another
    model gives other durations; the model's train/eval mode is left as it was."""
    from kokoro_lab.model import load_model
    from kokoro_lab.text import model_input_ids

    cached = prepare_manifest(synthetic_data)
    (tmp_path / "manifest.json").write_text((cached.cache_dir / "manifest.json").read_text())

    def attached(model) -> list[list[int]]:
        manifest = Manifest(tmp_path, [dict(e) for e in cached.entries[:4]], cached.speakers)
        attach_reference_durations(manifest, "pretrained", synthetic_data, "jf_alpha", model)
        return [e["ref_durations"] for e in manifest.entries]

    real_model.train()
    ours = attached(real_model)
    assert real_model.training
    real_model.eval()
    entries = cached.entries[:4]
    tokens = [model_input_ids(e["phonemes"]) for e in entries]
    folded = predicted_durations(load_model(), tokens, "jf_alpha")
    assert ours == [rescale_durations(d, e["frames"]) for d, e in zip(folded, entries)]
    slower = copy.deepcopy(real_model)
    with torch.no_grad():
        slower.predictor.duration_proj.linear_layer.bias += 1.0  # every sigmoid bin nearer 1
    assert attached(slower) != ours
    with pytest.raises(ValueError, match="reference_model"):
        attached(None)
