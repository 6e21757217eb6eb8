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

from kokoro_lab.configs import model_config_from
from kokoro_lab.errors import UserValueError
from kokoro_lab.io import atomic_write
from kokoro_lab.lightning.training import (
    KokoroTraining,
    LossHistory,
    export_official,
    extract_voicepacks,
    loss_summary,
    read_history,
    save_voicepacks,
)
from kokoro_lab.model import KokoroModel, load_model
from kokoro_lab.modules.albert import init_albert_
from kokoro_lab.runtime import process_state

log = logging.getLogger(__name__)

SCRATCH = "scratch"
PRETRAINED = ("pretrained", "embedded", None)


def build_model(cfg: DictConfig) -> KokoroModel:
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


def resume_from(cfg: DictConfig, trainer: L.Trainer) -> str | None:
    """`ckpt_path=last` resumes only when a last.ckpt exists (a fresh run starts quietly)."""
    path = cfg.get("ckpt_path")
    if path != "last":
        return path
    found = [
        cb.dirpath
        for cb in trainer.checkpoint_callbacks
        if cb.dirpath and (Path(cb.dirpath) / f"{cb.CHECKPOINT_NAME_LAST}.ckpt").is_file()
    ]
    return "last" if found else None


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

    t = cfg.training
    if cfg.data.min_frames < t.segment_frames or 2 * cfg.data.min_frames < t.style_frames:
        raise UserValueError(
            f"data.min_frames={cfg.data.min_frames} must cover training.segment_frames="
            f"{t.segment_frames} and half of training.style_frames={t.style_frames}"
        )
    datamodule = instantiate(cfg.data)
    model = build_model(cfg)
    modules = {k: instantiate(v) for k, v in cfg.modules.items() if v is not None}
    start_styles(cfg, modules)
    module = KokoroTraining(
        model, **modules, seed=cfg.seed, **OmegaConf.to_container(cfg.training, resolve=True)
    )
    callbacks = _instantiate_group(cfg.get("callbacks"))
    callbacks.append(LossHistory(run_dir / "history.jsonl"))
    loggers = _instantiate_group(cfg.get("logger"))
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, use_distributed_sampler=False
    )

    held_out = {}
    if cfg.get("validate_before_fit"):
        held_out["before"] = _first_metrics(trainer.validate(module, datamodule=datamodule))
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from(cfg, trainer))
    if cfg.get("validate_before_fit"):
        held_out["after"] = _first_metrics(trainer.validate(module, datamodule=datamodule))
    if not trainer.is_global_zero:
        return None

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
    write_summary(run_dir, summary)
    log.info("summary: %s", run_dir / "summary.json")
    return summary
