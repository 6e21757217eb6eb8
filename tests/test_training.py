"""The training recipe end to end on the tiny config: it learns, DDP on CPU matches one process,
a SIGKILLed run resumes exactly, and fine-tuning exports weights that load strictly into our
model and into hexgrad's KModel. One thread per process: tiny ops are overhead-bound, and it keeps
the runs fast on a shared CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_config, offline_env, run_script, script_command
from hydra.utils import instantiate

from kokoro_lab.checkpoint import COMPONENTS, load_into, read_checkpoint
from kokoro_lab.hydra_configs import model_config
from kokoro_lab.lightning.callbacks import read_history
from kokoro_lab.model import KokoroModel
from kokoro_lab.tasks.train import train

TINY = ["experiment=tiny_overfit", "logger=none", "threads=1"]
#: The reference run, shared by the learning and the kill/resume tests: 16 clips in batches of
#: 4 (4 batches an epoch), every stage (acoustic, joint from step 4, adversarial from step 8),
#: a validation every 6 steps and a checkpoint every 3.
REFERENCE = [
    *TINY,
    "trainer.max_steps=12",
    "trainer.val_check_interval=6",
    "callbacks.model_checkpoint.every_n_train_steps=3",
    "training.schedule.joint_start=4",
    "training.schedule.adversarial_start=8",
]


_cfg = partial(compose_config, "train")


@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=tiny_overfit"],
        ["experiment=finetune", "data_dir=/data/ljspeech"],
        ["trainer=gpu"],
        ["trainer=ddp"],
        ["trainer=ddp_multinode"],
        ["logger=csv"],
        ["logger=tensorboard"],
        ["logger=none"],
        ["debug=fast_dev_run"],
        ["debug=overfit_batch"],
        ["callbacks=finetune_eval", "val_dir=/data/held_out"],
        ["trainer.precision=bf16-mixed", "training.accumulate_grad_batches=4"],
    ],
)
def test_train_config_composes(overrides, tmp_path):
    cfg = _cfg(*overrides, f"run_dir={tmp_path}")
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert cfg.data._target_.endswith("KokoroDataModule")
    if overrides[0].startswith("experiment="):  # only the experiments resize these modules
        for node in cfg.modules.values():
            instantiate(node)


def test_cpu_and_ddp_trainers_and_loggers_instantiate(tmp_path):
    for trainer in ("cpu", "ddp"):
        cfg = _cfg(f"trainer={trainer}", "trainer.accelerator=cpu", f"run_dir={tmp_path}")
        instantiate(cfg.trainer, use_distributed_sampler=False, logger=False)
    for logger in ("csv", "wandb", "tensorboard"):  # tensorboard: the test extra
        cfg = _cfg(f"logger={logger}", f"run_dir={tmp_path}")
        instantiate(cfg.logger)


@pytest.fixture(scope="module")
def reference_run(synthetic_data, tmp_path_factory) -> Path:
    """REFERENCE trained in this process, uninterrupted: its run directory."""
    run_dir = tmp_path_factory.mktemp("reference")
    train(_cfg(*REFERENCE, f"run_dir={run_dir}"))
    return run_dir


@pytest.mark.slow
def test_tiny_from_scratch_learns_and_exports(reference_run):
    """A short experiment=tiny_overfit through every stage, with validation, export and
    voicepack extraction. (The >= 5x fall of the full recipe is a 1000-step measurement.)"""
    summary = json.loads((reference_run / "summary.json").read_text())
    assert summary["global_step"] == 12
    losses = summary["losses"]
    assert {"mel", "stft", "align", "dur", "f0", "energy", "adv", "fm", "disc"} <= set(losses)
    # `last`: the mean over the final epoch (every clip once); measured 8.5 -> ~3.9
    assert losses["mel"]["last"] < losses["mel"]["first"] / 1.5, losses["mel"]
    history = read_history(reference_run / "history.jsonl")
    assert [r["stage"] for r in history] == ["acoustic"] * 4 + ["joint"] * 8
    # the official layout, loading strictly into the tiny model
    model = KokoroModel(model_config("tiny"))
    load_into(model, read_checkpoint(summary["exported_checkpoint"]))
    pack = torch.load(summary["voicepacks"]["jf_alpha"], weights_only=True)
    assert pack.shape == (510, 1, 2 * model.config.style_dim) and torch.isfinite(pack).all()


@pytest.mark.slow
def test_bf16_mixed_with_gradient_accumulation(synthetic_data, tmp_path):
    """trainer.precision=bf16-mixed and accumulate_grad_batches=2 run: 4 batches make 2
    optimizer steps (the step counter advances on every second batch), losses stay finite."""
    train(
        _cfg(
            *TINY,
            "trainer.max_steps=2",
            "trainer.val_check_interval=100000",
            "trainer.precision=bf16-mixed",
            "training.accumulate_grad_batches=2",
            f"run_dir={tmp_path}",
        )
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["global_step"] == 2
    history = read_history(tmp_path / "history.jsonl")
    assert [r["step"] for r in history] == [0, 1, 1, 2]  # logged after each batch
    assert all(torch.isfinite(torch.tensor(v)) for r in history for v in r["losses"].values())


#: scripts/train.py as a child process: one OpenMP thread, unbuffered output, no GPU.
TRAIN_ENV = {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": None}


def _train_script(*overrides: str) -> None:
    done = run_script("train.py", *overrides, env=TRAIN_ENV)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one_process(synthetic_data, tmp_path):
    """2 processes x batch 2 (gloo, scripts/train.py trainer=ddp) against 1 process x batch 4:
    the same global batches, crops and excitation noise, and DDP's averaged gradients, through
    the acoustic, joint and adversarial stages.

    Tolerances: before any update (step 1) the two differ only by float rounding of differently
    padded batches (measured ~1e-5). After updates, Adam turns rounding-level differences of
    near-zero gradients into +-lr steps, so later steps agree to ~0.2% on the reconstruction
    losses and ~1% on the prosody ones (measured). Durations come from the recorded reference
    here: MAS on the learned alignment can flip a near-tied boundary on a 1e-6 difference,
    which moves every loss of that clip by a frame's worth.
    """
    common = [
        *TINY,
        "trainer.max_steps=3",
        "training.dropout=false",
        "training.schedule.joint_start=1",
        "training.schedule.adversarial_start=2",
        "data.reference_durations=file",
        "training.alignment.source=reference",
    ]
    one, two = tmp_path / "one", tmp_path / "two"
    train(_cfg(*common, "data.batch_size=4", f"run_dir={one}"))
    _train_script(
        *common,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "data.batch_size=2",
        f"hydra.run.dir={two}",
    )
    a, b = read_history(one / "history.jsonl"), read_history(two / "history.jsonl")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b):
        assert rb["ids"] == ra["ids"][:2]  # rank 0 holds the first half of the global batch
        assert set(ra["losses"]) == set(rb["losses"])
        for name, value in ra["losses"].items():
            if ra["step"] == 1:
                rel = 1e-4
            else:
                rel = 5e-3 if name in ("mel", "stft", "align", "total", "disc", "adv") else 3e-2
            assert rb["losses"][name] == pytest.approx(value, rel=rel), (ra["step"], name)
    assert "adv" in a[-1]["losses"] and "dur" in a[-1]["losses"]
    assert json.loads((two / "summary.json").read_text())["global_step"] == 3


def _wait_for_step(history: Path, step: int, proc: subprocess.Popen, timeout: float = 900):
    """Polls the run's history until it logged `step`: a deadline, not a fixed sleep, so a
    loaded machine only makes it wait longer."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if history.is_file():
            steps = [json.loads(x)["step"] for x in history.read_text().splitlines() if x]
            if steps and max(steps) >= step:
                return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (code {proc.returncode}) before step {step}")
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout} s")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(reference_run, tmp_path):
    """REFERENCE as scripts/train.py, SIGKILLed once it logged step 7: last.ckpt is step 6 =
    epoch 1 after 2 of its 4 batches (or step 9 = epoch 2 after 1, when the run got past the
    next checkpoint before the kill landed, as on a loaded machine). The same command again
    resumes from it; the step counter, the optimizer state and the data order must continue as
    in the uninterrupted reference run."""
    killed = tmp_path / "killed"
    overrides = [*REFERENCE, f"hydra.run.dir={killed}"]
    proc = subprocess.Popen(
        script_command("train.py", *overrides),
        cwd=ROOT,
        env=offline_env(TRAIN_ENV),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_step(killed / "history.jsonl", 7, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt = _load_checkpoint(killed / "checkpoints" / "last.ckpt")
    step = ckpt["global_step"]
    assert step in (6, 9), step  # mid-epoch: 4 batches an epoch
    assert ckpt["epoch"] == step // 4
    assert ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": step // 4, "consumed": step % 4}
    ]
    _train_script(*overrides)  # the same command again: ckpt_path=last resumes

    a = read_history(reference_run / "history.jsonl")
    b = read_history(killed / "history.jsonl")
    assert [r["step"] for r in b] == list(range(1, 13)) == [r["step"] for r in a]
    for ra, rb in zip(a, b):
        assert rb["ids"] == ra["ids"], rb["step"]  # the data order continues
        for name, value in ra["losses"].items():
            assert rb["losses"][name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    end_a = _load_checkpoint(reference_run / "checkpoints" / "last.ckpt")
    end_b = _load_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert end_a["global_step"] == end_b["global_step"] == 12
    for opt_a, opt_b in zip(end_a["optimizer_states"], end_b["optimizer_states"], strict=True):
        for key, state in opt_a["state"].items():
            assert state["step"] == opt_b["state"][key]["step"]
            assert torch.allclose(state["exp_avg"], opt_b["state"][key]["exp_avg"], atol=1e-6)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["global_step"] == 12
    assert summary["losses"]["mel"]["first"] == pytest.approx(a[0]["losses"]["mel"])


@pytest.mark.slow
def test_finetune_exports_the_official_layout_for_kmodel(synthetic_data, tmp_path):
    """experiment=finetune on the full-size pretrained model for one step, with the decoder
    added to what trains (the preset freezes it): the exported file loads strictly into our
    model and into hexgrad's KModel, and training changed it. (Small style encoders keep it
    quick; they are not part of the export.)"""
    from reference_kokoro import build_kmodel

    from kokoro_lab.hub import embedded_checkpoint_path
    from kokoro_lab.text import VOCAB
    from kokoro_lab.voices import VoicePack

    cfg = _cfg(
        "experiment=finetune",
        f"data_dir={synthetic_data}",
        f"run_dir={tmp_path}",
        "logger=none",
        "threads=1",
        "trainer.max_steps=1",
        "data.batch_size=1",
        "data.reference_durations=null",
        "training.trainable=[decoder,style_encoder,predictor_encoder,aligner]",
        "modules.style_encoder.channels=8",
        "modules.style_encoder.max_channels=16",
        "modules.predictor_encoder.channels=8",
        "modules.predictor_encoder.max_channels=16",
        "training.schedule.aligner_warmup=0",
    )
    summary = train(cfg)
    path = summary["exported_checkpoint"]
    ckpt = read_checkpoint(path)
    load_into(KokoroModel(), ckpt)
    kmodel = build_kmodel(path, VOCAB)
    for comp in COMPONENTS:
        getattr(kmodel, comp).load_state_dict(ckpt[comp], strict=True)
    before = read_checkpoint(embedded_checkpoint_path())
    changed = [k for k, v in ckpt["decoder"].items() if not torch.equal(v, before["decoder"][k])]
    assert changed  # the decoder trained
    assert all(torch.equal(v, before["bert"][k]) for k, v in ckpt["bert"].items())  # frozen
    pack = VoicePack.load(summary["voicepacks"]["jf_alpha"])
    assert pack.release == "v1.0"


def test_validation_media_reach_wandb_offline(tmp_path):
    """Audio and mel/alignment plots, as logged after every validation, written by an offline
    W&B run (CSV loggers take no media and are skipped)."""
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    from kokoro_lab.audio.features import LogMelSpectrogram
    from kokoro_lab.lightning.media import log_validation_media

    wandb = WandbLogger(project="kokoro_lab_test", save_dir=str(tmp_path), offline=True)
    audio = 0.1 * torch.sin(torch.arange(12_000) / 10.0)
    mel = LogMelSpectrogram()(audio[None])[0]
    log_attn = torch.log_softmax(torch.randn(20, 7), -1)
    try:
        log_validation_media(
            [wandb, CSVLogger(str(tmp_path))],
            "val/clip",
            step=3,
            sample_rate=24_000,
            real=audio,
            reconstructed=audio * 0.5,
            synthesized=audio,
            mel_real=mel,
            mel_fake=mel,
            log_attn=log_attn,
            durations=torch.tensor([3, 3, 3, 3, 3, 3, 2]),
        )
    finally:
        wandb.experiment.finish()
    media = list(tmp_path.rglob("*.wav")) + list(tmp_path.rglob("*.png"))
    assert any(p.suffix == ".wav" for p in media) and any(p.suffix == ".png" for p in media)


def test_lr_scales_by_component_and_parameter_prefix():
    from kokoro_lab.lightning.training import KokoroTraining

    cfg = _cfg(*TINY, "run_dir=/tmp/unused")
    modules = {k: instantiate(v) for k, v in cfg.modules.items()}
    module = KokoroTraining(
        KokoroModel(model_config("tiny")),
        **modules,
        trainable=["decoder", "style_encoder"],
        optim={"lr": 1e-3, "lr_scales": {"style_encoder": 2.0, "style_encoder.unshared.bias": 30}},
    )
    (g_opt, _), _ = module.configure_optimizers()
    lr_of = {id(p): group["lr"] for group in g_opt.param_groups for p in group["params"]}
    assert lr_of[id(module.style_encoder.unshared.bias)] == pytest.approx(3e-2)
    assert lr_of[id(module.style_encoder.unshared.weight)] == pytest.approx(2e-3)
    assert lr_of[id(module.model.decoder.F0_conv.weight_v)] == pytest.approx(1e-3)
    assert id(module.model.bert.pooler.weight) not in lr_of  # frozen
    assert not module.prosody_trains  # nothing the prosody losses reach trains: skipped
    with pytest.raises(ValueError, match="match no parameter"):
        KokoroTraining(
            KokoroModel(model_config("tiny")), **modules, optim={"lr_scales": {"decodr": 2.0}}
        ).configure_optimizers()
