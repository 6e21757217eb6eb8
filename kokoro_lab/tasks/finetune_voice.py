"""`python scripts/finetune_voice.py data_dir=DIR name=NAME`: fit a voicepack for the frozen model.

Writes `output_dir/NAME.pt` (an official v1.0 voicepack: a float32 tensor [510, 1, 256] saved
with torch.save, atomically), `output_dir/NAME.wav` (a sample sentence), `output_dir/metrics.json`
(losses, speaker similarity, skipped rows, time and memory), `output_dir/alignment.json`
(durations per clip), Lightning checkpoints in `output_dir/checkpoints` (a killed run resumes
from `last.ckpt`), the pyin cache in `output_dir/cache` and, with the default logger, an offline
wandb run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from kokoro_lab.audio import write_wav
from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.configs import model_config_from
from kokoro_lab.data.dataset import read_metadata
from kokoro_lab.data.features import LogMelSpectrogram
from kokoro_lab.errors import UserValueError
from kokoro_lab.io import atomic_write
from kokoro_lab.lightning.voicepack import VoicepackFit
from kokoro_lab.metrics import SpeakerSimilarity
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.runtime import process_state
from kokoro_lab.voicepack.alignment import align, dtw_align
from kokoro_lab.voicepack.crops import ClipIndex, CropDataset
from kokoro_lab.voicepack.data import COLUMNS, FRAME, load_speaker_folder
from kokoro_lab.voicepack.init import initial_voice, reference_packs
from kokoro_lab.voicepack.prior import StylePrior
from kokoro_lab.voicepack.table import anchor_rows
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)


@dataclass
class FinetuneResult:
    voicepack: Path
    sample: Path
    metrics_path: Path
    metrics: dict


def _check(cfg: DictConfig) -> None:
    if not cfg.get("data_dir"):
        raise UserValueError("pass data_dir=DIR: a speaker folder with metadata.csv and wavs/")
    if not cfg.get("name") or not re.fullmatch(r"[A-Za-z0-9_.-]+", str(cfg.name)):
        raise UserValueError(
            f"name={cfg.get('name')!r}: give a file-name-safe voice name (a-z 0-9 _ . -)"
        )
    read_metadata(Path(cfg.data_dir), COLUMNS)  # no metadata.csv: fails before model loading
    if int(cfg.steps) < 1:
        raise UserValueError(f"steps={cfg.steps} must be at least 1")


def _mean_losses(history: list[dict], part: slice) -> dict[str, float]:
    rows = history[part]
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]} if rows else {}


def finetune_voice(cfg: DictConfig) -> FinetuneResult:
    """Fit, save and report a voicepack per the config (see the module docstring). Threads and
    the global seed hold only while it runs."""
    _check(cfg)
    with process_state(threads=cfg.get("threads"), seed=int(cfg.seed)):
        return _finetune_voice(cfg)


def _finetune_voice(cfg: DictConfig) -> FinetuneResult:
    started = time.perf_counter()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(
        cfg.get("checkpoint"), config=model_config_from(cfg.model), device=cfg.device
    )
    clips, bad = load_speaker_folder(cfg.data_dir, cfg.lang, out / "cache", cfg.get("max_clips"))
    seconds = sum(c.audio.shape[-1] for c in clips) / SAMPLE_RATE
    log.info("%d clips (%.1f s), %d rows skipped", len(clips), seconds, len(bad))
    speaker = SpeakerSimilarity()
    init, init_info = initial_voice(
        str(cfg.init_voice), model, clips, speaker, cfg.get("voices_dir")
    )
    if init.release != "v1.0":
        raise UserValueError(
            f"init_voice={cfg.init_voice!r} is a {init.release} pack: start from a v1.0 voice"
        )
    if cfg.align not in ("dtw", "rescale"):
        raise UserValueError(f"align={cfg.align!r}: use dtw or rescale")
    mel = LogMelSpectrogram()
    for clip in clips:
        style = init.select(clip.num_phonemes)
        if cfg.align == "dtw":
            clip.durations = dtw_align(model, clip.tokens, style, clip.audio, mel)
        else:
            clip.durations = align(model, clip.tokens, style, clip.frames)
    initial_durations = {c.id: c.durations.tolist() for c in clips}

    steps = int(cfg.steps)
    anchors = anchor_rows([c.num_phonemes for c in clips], int(cfg.anchors))
    refs = reference_packs(cfg.get("voices_dir"))
    prior_voices = list(cfg.get("prior_voices") or refs)
    prior = StylePrior(
        [refs[v].pack if v in refs else load_voice(v).pack for v in prior_voices],
        shrinkage=float(cfg.prior_shrinkage),
    )
    # prosody_steps > 0: the prosody half is fitted first on its own (cheap predictor steps),
    # then held while the joint steps fit the decoder half
    prosody_steps = int(cfg.get("prosody_steps") or 0)
    module = VoicepackFit(
        model,
        clips,
        init.pack,
        prior,
        anchors,
        lr=float(cfg.lr),
        prosody_lr=0.0 if prosody_steps else float(cfg.prosody_lr),
        weights=OmegaConf.to_container(cfg.weights),
        realign_at=tuple(sorted({int(f * steps) for f in cfg.realign_at if 0 < f < 1})),
        align_method=str(cfg.align),
        speaker=speaker,
        seed=int(cfg.seed),
    )
    # null: whole clips. The decoder's AdaIN normalizes over time, so a crop decoded alone is
    # not the crop of the whole clip's decoding (docs/finetune_voice.md): crops bias the fit.
    crop_frames = (
        max(c.frames for c in clips)
        if cfg.get("crop_seconds") is None
        else max(1, round(float(cfg.crop_seconds) * SAMPLE_RATE / FRAME))
    )
    extra_clips = 0 if prosody_steps else int(cfg.prosody_clips) - 1
    crops = CropDataset([c.frames for c in clips], steps, crop_frames, int(cfg.seed), extra_clips)
    train = DataLoader(crops, batch_size=None)
    val = DataLoader(ClipIndex(list(range(min(int(cfg.val_clips), len(clips))))), batch_size=None)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    ckpt_dir = out / "checkpoints"
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir,
        save_last=True,
        save_top_k=0,
        every_n_train_steps=int(cfg.checkpoint_every),
    )
    trainer = L.Trainer(
        accelerator="gpu" if str(cfg.device).startswith("cuda") else "cpu",
        devices=1,
        max_steps=steps,
        max_epochs=-1,  # max_steps decides; a resumed run continues past its first epoch
        logger=logger,
        callbacks=[checkpoints],
        val_check_interval=min(int(cfg.val_every), steps),
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        enable_model_summary=False,
        default_root_dir=str(out),
    )
    resume = ckpt_dir / "last.ckpt"
    ckpt_path = str(resume) if cfg.resume and resume.is_file() else None
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    prosody_history: list[dict] = []
    if prosody_steps and not ckpt_path:  # a resumed run's checkpoint holds the fitted half
        t0 = time.perf_counter()
        prosody_history = module.fit_prosody(
            prosody_steps, int(cfg.prosody_clips), float(cfg.prosody_lr), int(cfg.seed)
        )
        log.info(
            "prosody half: %d steps in %.0f s, loss %.3f -> %.3f",
            prosody_steps,
            time.perf_counter() - t0,
            prosody_history[0]["total"],
            prosody_history[-1]["total"],
        )
    trainer.fit(module, train, val, ckpt_path=ckpt_path)

    pack = VoicePack(module.table(), str(cfg.name), lang=cfg.lang)
    pack_path = pack.save(out / f"{cfg.name}.pt")
    # the espeak front end the speaker folder was phonemized with (voicepack/data.py)
    pipeline = Pipeline(model, pack, lang=cfg.lang, seed=0, g2p="espeak")
    sample = write_wav(out / f"{cfg.name}.wav", pipeline(text=str(cfg.sample_text)).audio)
    refs = [c.audio.numpy() for c in clips[:8]]
    probe = clips[0].phonemes
    sims = {
        label: float(
            speaker.similarity_to_set(
                [Pipeline(model, p, seed=0).synthesize_phonemes(probe).audio.numpy()],
                refs,
                SAMPLE_RATE,
            ).mean()
        )
        for label, p in (("init", init), ("fitted", pack))
    }
    final_durations = {c.id: c.durations.tolist() for c in clips}
    atomic_write(
        out / "alignment.json",
        lambda tmp: tmp.write_text(
            json.dumps({"initial": initial_durations, "final": final_durations})
        ),
    )
    changed = [
        (torch.tensor(final_durations[k]) - torch.tensor(v)).abs().float().mean().item()
        for k, v in initial_durations.items()
    ]
    metrics = {
        "name": str(cfg.name),
        "voicepack": str(pack_path),
        "sample": str(sample),
        "data_dir": str(cfg.data_dir),
        "clips": len(clips),
        "audio_seconds": seconds,
        "bad_rows": [asdict(b) for b in bad],
        "init": {"voice": init.name, **init_info},
        "anchors_rows": anchors,
        "prior_voices": prior_voices,
        "steps": steps,
        "resumed_from": ckpt_path,
        "prosody_fit": {
            "steps": prosody_steps,
            "losses_first_10": _mean_losses(prosody_history, slice(0, 10)),
            "losses_last_20": _mean_losses(prosody_history, slice(-20, None)),
        },
        "losses_first_10": _mean_losses(module.history, slice(0, 10)),
        "losses_last_20": _mean_losses(module.history, slice(-20, None)),
        "speaker_sim_to_data": {
            **sims,
            "definition": "resemblyzer cosine of clip 1's phonemes rendered with the voice to the "
            "centroid of the first 8 recordings",
        },
        "realignment_mean_abs_change_frames": sum(changed) / len(changed),
        "wall_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "loadavg": list(os.getloadavg()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    metrics_path = atomic_write(
        out / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    )
    if logger:
        import wandb

        logger.experiment.summary.update(
            {f"final/speaker_sim_{k}": v for k, v in sims.items()}
            | {"final/wall_s": metrics["wall_s"]}
        )
        logger.experiment.log({"final/sample": wandb.Audio(str(sample), sample_rate=SAMPLE_RATE)})
        logger.experiment.finish()
    log.info("wrote %s, %s and %s", pack_path, sample, metrics_path)
    return FinetuneResult(pack_path, sample, metrics_path, metrics)
