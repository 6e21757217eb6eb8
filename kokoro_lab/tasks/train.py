"""`train(cfg)`: the task behind scripts/train.py (tests call it directly).

Assembles the datamodule, the model (pretrained Kokoro-82M or from scratch), the training-only
modules, callbacks, loggers and the Lightning Trainer from the Hydra config; fits (resuming from
`run_dir/checkpoints/last.ckpt` when it exists); then, on rank zero, exports the weights in the
official layout, extracts a voicepack per speaker and writes `run_dir/summary.json`:
`{"losses": {NAME: {"first", "last"}}, "global_step", "exported_checkpoint", ...}`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from kokoro_lab.errors import UserValueError
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.io import atomic_write
from kokoro_lab.lightning.callbacks import LossHistory, loss_summary, read_history
from kokoro_lab.lightning.export import export_official, extract_voicepacks, save_voicepacks
from kokoro_lab.lightning.trainer import make_trainer
from kokoro_lab.lightning.training import KokoroTraining
from kokoro_lab.model import KokoroModel, load_model
from kokoro_lab.modules.albert import init_albert_
from kokoro_lab.runtime import process_state

log = logging.getLogger(__name__)

SCRATCH = "scratch"
PRETRAINED = ("pretrained", "embedded", None)


def initial_model(cfg: DictConfig) -> KokoroModel:
    """`init=scratch`: random weights (BERT-style PL-BERT init); `pretrained`: the embedded
    Kokoro-82M v1.0; `v1.0` / `v0.19` / a path: those weights (strict load, weight norm kept)."""
    config = model_config_from(cfg.model)
    if cfg.init == SCRATCH:
        model = KokoroModel(config)
        init_albert_(model.bert)
        return model
    source = None if cfg.init in PRETRAINED else str(cfg.init)
    return load_model(source, config=config, fold=False)


def start_styles(cfg: DictConfig, modules: dict) -> None:
    """Fine-tuning: both style encoders first output `init_voice`'s mean style row."""
    from kokoro_lab.voices import load_voice, split_style

    if cfg.init == SCRATCH or not cfg.get("init_voice"):
        return
    pack = load_voice(cfg.init_voice).pack  # (rows, 1, 256)
    acoustic, prosodic = split_style(pack.mean(dim=(0, 1)))
    modules["style_encoder"].start_from(acoustic)
    modules["predictor_encoder"].start_from(prosodic)


def _instantiate_group(node) -> list:
    """A config group node -> objects: one (`_target_` at the top, as the shared logger configs
    are written) or several (a mapping of named nodes, as callbacks are)."""
    if not node:
        return []
    if "_target_" in node:
        return [instantiate(node)]
    return [instantiate(v) for v in node.values() if v is not None and "_target_" in v]


def _first_metrics(results: list[dict]) -> dict[str, float]:
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def write_summary(run_dir: Path, summary: dict) -> Path:
    path = run_dir / "summary.json"
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


def train(cfg: DictConfig) -> dict | None:
    """Fit per the config; rank zero returns (and writes) the summary, other ranks None.
    Threads and the global seeds (Lightning's seed_everything) hold only while it runs."""
    with process_state(threads=cfg.get("threads")):
        L.seed_everything(cfg.seed, workers=True)
        return _train(cfg)


def _train(cfg: DictConfig) -> dict | None:
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check(cfg)
    # built in this order: the global seed is set once, and each step draws from it
    model = initial_model(cfg)
    # the reference durations, when pretrained, come from the run's own initial model
    datamodule = instantiate(cfg.data, _partial_=True)(reference_model=model)
    module = training_module(cfg, model)
    trainer = _trainer(cfg, run_dir)
    held_out = _fit(cfg, trainer, module, datamodule)
    if not trainer.is_global_zero:
        return None
    summary = _summarize(cfg, run_dir, trainer, module, datamodule, held_out)
    write_summary(run_dir, summary)
    log.info("summary: %s", run_dir / "summary.json")
    return summary


def _check(cfg: DictConfig) -> None:
    t = cfg.training
    if cfg.data.min_frames < t.segment_frames or 2 * cfg.data.min_frames < t.style_frames:
        raise UserValueError(
            f"data.min_frames={cfg.data.min_frames} must cover training.segment_frames="
            f"{t.segment_frames} and half of training.style_frames={t.style_frames}"
        )
    if cfg.init == SCRATCH and cfg.data.get("reference_durations") == "pretrained":
        raise UserValueError(
            "data.reference_durations=pretrained asks the run's initial model, and init=scratch "
            "has random weights: use a pretrained init, or reference_durations=file or null"
        )


def training_module(cfg: DictConfig, model: KokoroModel) -> KokoroTraining:
    """The LightningModule: `model` plus the training-only modules of `cfg.modules`."""
    modules = {k: instantiate(v) for k, v in cfg.modules.items() if v is not None}
    start_styles(cfg, modules)
    module = KokoroTraining(
        model, **modules, seed=cfg.seed, **OmegaConf.to_container(cfg.training, resolve=True)
    )
    return module


def _trainer(cfg: DictConfig, run_dir: Path) -> L.Trainer:
    """The trainer group's Trainer with the configured callbacks and loggers, plus the loss
    history; the datamodule shards batches itself (see data/datamodule.py)."""
    callbacks = _instantiate_group(cfg.get("callbacks"))
    callbacks.append(LossHistory(run_dir / "history.jsonl"))
    loggers = _instantiate_group(cfg.get("logger"))
    return make_trainer(
        cfg, callbacks=callbacks, logger=loggers or False, use_distributed_sampler=False
    )


def _fit(cfg: DictConfig, trainer: L.Trainer, module, datamodule) -> dict:
    """Fit, resuming per `ckpt_path` (`last`: Lightning resumes from the checkpoint callback's
    last.ckpt when there is one, else starts fresh; null: fresh; a path: that checkpoint).
    With `validate_before_fit`, validation metrics before and after: {"before", "after"}."""
    held_out = {}
    if cfg.get("validate_before_fit"):
        held_out["before"] = _first_metrics(trainer.validate(module, datamodule=datamodule))
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    if cfg.get("validate_before_fit"):
        held_out["after"] = _first_metrics(trainer.validate(module, datamodule=datamodule))
    return held_out


def _summarize(cfg, run_dir: Path, trainer, module, datamodule, held_out: dict) -> dict:
    """Rank zero after fitting: the loss summary and the exports the config asks for."""
    summary = {
        "losses": loss_summary(read_history(run_dir / "history.jsonl")),
        "global_step": trainer.global_step,
        "exported_checkpoint": None,
    }
    if cfg.export.checkpoint:
        path = export_official(module.model, run_dir / "kokoro.pth")
        summary["exported_checkpoint"] = str(path)
    if cfg.export.voicepacks:
        packs = extract_voicepacks(module, datamodule.train_set)
        summary["voicepacks"] = save_voicepacks(packs, run_dir / "voices")
    if held_out:
        summary["held_out"] = held_out
    if getattr(module, "speaker_eval", None):
        summary["speaker_eval"] = module.speaker_eval
    return summary
