"""`python scripts/finetune_voice.py data_dir=DIR name=NAME`: fit a voicepack for the frozen model.

`audio=FILE [text=...]` instead of `data_dir` fits to one recording: it is cut into utterances at
its pauses, some held out (voice_fitting/one_clip.py), and the fit stops when the held-out speaker
similarity stops improving (lightning/best_heldout.py); metrics.json then adds `transcript`,
`pieces`, `noise` and `heldout_similarity` (docs/one_clip_voice.md).

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
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from kokoro_lab.audio.features import LogMelSpectrogram
from kokoro_lab.audio.io import write_wav
from kokoro_lab.config import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_lab.data.metadata import read_metadata
from kokoro_lab.errors import UserValueError
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.io import atomic_write
from kokoro_lab.lightning.best_heldout import BestHeldout
from kokoro_lab.lightning.trainer import make_trainer
from kokoro_lab.lightning.voice_fitting import VoicepackFit
from kokoro_lab.metrics import SpeakerSimilarity
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.runtime import process_state
from kokoro_lab.voice_fitting.crops import ClipIndex, CropDataset
from kokoro_lab.voice_fitting.data import COLUMNS, load_speaker_folder
from kokoro_lab.voice_fitting.durations import align, dtw_align
from kokoro_lab.voice_fitting.init import initial_voice, reference_packs
from kokoro_lab.voice_fitting.one_clip import check_text_for, one_clip
from kokoro_lab.voice_fitting.prior import StylePrior
from kokoro_lab.voice_fitting.table import anchor_rows
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # under output_dir


@dataclass
class FinetuneResult:
    voicepack: Path
    sample: Path
    metrics_path: Path
    metrics: dict


def _check(cfg: DictConfig) -> None:
    if bool(cfg.get("data_dir")) == bool(cfg.get("audio")):
        raise UserValueError(
            "pass data_dir=DIR (a speaker folder with metadata.csv and wavs/) or audio=FILE (one "
            "recording), not both"
        )
    if not cfg.get("name") or not re.fullmatch(r"[A-Za-z0-9_.-]+", str(cfg.name)):
        raise UserValueError(
            f"name={cfg.get('name')!r}: give a file-name-safe voice name (a-z 0-9 _ . -)"
        )
    if cfg.get("data_dir"):
        read_metadata(Path(cfg.data_dir), COLUMNS)  # no metadata.csv: fails before model loading
    else:
        check_text_for(str(cfg.lang), cfg.get("text"))
    if int(cfg.steps) < 1:
        raise UserValueError(f"steps={cfg.steps} must be at least 1")
    if cfg.align not in ("dtw", "rescale"):
        raise UserValueError(f"align={cfg.align!r}: use dtw or rescale")


def _mean_losses(history: list[dict], part: slice) -> dict[str, float]:
    rows = history[part]
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]} if rows else {}


def finetune_voice(cfg: DictConfig) -> FinetuneResult:
    """Fit, save and report a voicepack per the config (see the module docstring). Threads and
    the global seed hold only while it runs."""
    _check(cfg)
    with process_state(threads=cfg.get("threads"), seed=int(cfg.seed)):
        return _finetune_voice(cfg)


def _load_clips(cfg: DictConfig, out: Path) -> tuple[list, list, list, dict]:
    """(training clips, held-out clips, skipped rows or pieces, what the metrics add) from a
    speaker folder or, with `audio`, one recording (checked before any model loads)."""
    if not cfg.get("audio"):
        clips, bad = load_speaker_folder(
            cfg.data_dir, cfg.lang, out / "cache", cfg.get("max_clips")
        )
        return clips, [], bad, {}
    from kokoro_lab.metrics.asr import WhisperASR

    asr = WhisperASR(threads=int(cfg.get("threads") or 1))
    clip = one_clip(cfg.audio, cfg.get("text"), str(cfg.lang), int(cfg.heldout_every), asr)
    log.info("transcript: %s", clip.transcript)
    return (
        clip.train,
        clip.heldout,
        clip.skipped,
        {
            "audio": str(cfg.audio),
            "transcript": clip.transcript,
            "pieces": clip.pieces,
            "noise": clip.noise,
        },
    )


def _finetune_voice(cfg: DictConfig) -> FinetuneResult:
    started, cpu_started = time.perf_counter(), time.process_time()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    clips, heldout, bad, one_clip_facts = _load_clips(cfg, out)
    log.info("%d clips (%.1f s), %d rows skipped", len(clips), _seconds(clips), len(bad))
    model = load_model(
        cfg.get("checkpoint"), config=model_config_from(cfg.model), device=cfg.device
    )
    speaker = SpeakerSimilarity()
    init, init_info = initial_voice(
        str(cfg.init_voice),
        model,
        clips,
        speaker,
        cfg.get("voices_dir"),
        tuple(cfg.get("init_exclude") or ()),
    )
    if init.release != "v1.0":
        raise UserValueError(
            f"init_voice={cfg.init_voice!r} is a {init.release} pack: start from a v1.0 voice"
        )
    initial_durations = _align_clips(cfg, model, clips + heldout, init)
    anchors = anchor_rows([c.num_phonemes for c in clips], int(cfg.anchors))
    prior_voices, prior = _style_prior(cfg)
    module = _fitting_module(cfg, model, clips, init, prior, anchors, speaker, heldout)
    train, val = _loaders(cfg, clips, heldout)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    best = BestHeldout(patience=int(cfg.early_stop_patience)) if heldout else None
    trainer = _trainer(cfg, out, logger, best)
    ckpt_path = _resume_path(cfg, out)
    # a resumed run's checkpoint holds the fitted prosody half
    prosody_history = [] if ckpt_path else _fit_prosody_first(cfg, module)
    trainer.fit(module, train, val, ckpt_path=ckpt_path)

    pack = VoicePack(module.table(), str(cfg.name), lang=cfg.lang)
    pack_path = pack.save(out / f"{cfg.name}.pt")
    # the espeak front end the speaker folder was phonemized with (voice_fitting/data.py)
    pipeline = Pipeline(model, pack, lang=cfg.lang, seed=0, g2p="espeak")
    sample = write_wav(out / f"{cfg.name}.wav", pipeline(text=str(cfg.sample_text)).audio)
    sims = _similarities(model, speaker, clips, {"init": init, "fitted": pack})
    changed = _write_alignment(out / "alignment.json", initial_durations, clips + heldout)
    metrics = {
        "name": str(cfg.name),
        "voicepack": str(pack_path),
        "sample": str(sample),
        "data_dir": str(cfg.data_dir) if cfg.get("data_dir") else None,
        **one_clip_facts,
        "clips": len(clips),
        "audio_seconds": _seconds(clips),
        "bad_rows": [asdict(b) for b in bad],
        "init": {"voice": init.name, **init_info},
        "anchors_rows": anchors,
        "prior_voices": prior_voices,
        "steps": int(cfg.steps),
        "resumed_from": ckpt_path,
        "prosody_fit": {"steps": _prosody_steps(cfg), **_loss_means(prosody_history)},
        **_loss_means(module.history),
        "speaker_sim_to_data": {
            **sims,
            "definition": "resemblyzer cosine of clip 1's phonemes rendered with the voice to the "
            "centroid of the first 8 recordings",
        },
        "realignment_mean_abs_change_frames": changed,
        **(_heldout_facts(best, heldout) if best else {}),
        **_run_facts(started, cpu_started),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    metrics_path = atomic_write(
        out / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    )
    if logger:
        _log_final(logger, sims, metrics["wall_s"], sample)
    log.info("wrote %s, %s and %s", pack_path, sample, metrics_path)
    return FinetuneResult(pack_path, sample, metrics_path, metrics)


def _seconds(clips) -> float:
    return sum(c.audio.shape[-1] for c in clips) / SAMPLE_RATE


def _prosody_steps(cfg: DictConfig) -> int:
    """> 0: the prosody half is fitted first on its own (cheap predictor steps), then held
    while the joint steps fit the decoder half."""
    return int(cfg.get("prosody_steps") or 0)


def _align_clips(cfg: DictConfig, model, clips, init: VoicePack) -> dict[str, list[int]]:
    """Each clip's starting durations (`align=dtw`: DTW of a rendering against the recording;
    `rescale`: the predictor's, rescaled to the clip), set on the clips and returned by id."""
    mel = LogMelSpectrogram()
    for clip in clips:
        style = init.select(clip.num_phonemes)
        if cfg.align == "dtw":
            clip.durations = dtw_align(model, clip.tokens, style, clip.audio, mel)
        else:
            clip.durations = align(model, clip.tokens, style, clip.frames)
    return {c.id: c.durations.tolist() for c in clips}


def _style_prior(cfg: DictConfig) -> tuple[list[str], StylePrior]:
    """The prior's voices (`prior_voices`, default: every reference pack) and the prior."""
    refs = reference_packs(cfg.get("voices_dir"))
    prior_voices = list(cfg.get("prior_voices") or refs)
    prior = StylePrior(
        [refs[v].pack if v in refs else load_voice(v).pack for v in prior_voices],
        shrinkage=float(cfg.prior_shrinkage),
    )
    return prior_voices, prior


def _fitting_module(
    cfg: DictConfig, model, clips, init, prior, anchors, speaker, heldout=()
) -> VoicepackFit:
    """The fit of `clips`; the `heldout` clips follow them, only validated."""
    steps, prosody_steps = int(cfg.steps), _prosody_steps(cfg)
    return VoicepackFit(
        model,
        [*clips, *heldout],
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
        train_clips=len(clips),
    )


def _loaders(cfg: DictConfig, clips, heldout=()) -> tuple[DataLoader, DataLoader]:
    """One crop per step (with the extra prosody clips of joint fitting) and the validation
    clips: the held-out ones (indices after `clips`), else the first `val_clips`."""
    # null: whole clips. The decoder's AdaIN normalizes over time, so a crop decoded alone is
    # not the crop of the whole clip's decoding (docs/finetune_voice.md): crops bias the fit.
    crop_frames = (
        max(c.frames for c in clips)
        if cfg.get("crop_seconds") is None
        else max(1, round(float(cfg.crop_seconds) * SAMPLE_RATE / SAMPLES_PER_FRAME))
    )
    extra_clips = 0 if _prosody_steps(cfg) else int(cfg.prosody_clips) - 1
    crops = CropDataset(
        [c.frames for c in clips], int(cfg.steps), crop_frames, int(cfg.seed), extra_clips
    )
    train = DataLoader(crops, batch_size=None)
    shown = (
        range(len(clips), len(clips) + len(heldout))
        if heldout
        else range(min(int(cfg.val_clips), len(clips)))
    )
    val = DataLoader(ClipIndex(list(shown)), batch_size=None)
    return train, val


def _trainer(cfg: DictConfig, out: Path, logger, best: BestHeldout | None = None) -> L.Trainer:
    """max_steps decides (a resumed run continues past its first epoch); `last.ckpt` every
    `checkpoint_every` steps; with held-out clips (`best`), validation every `heldout_val_every`
    steps and early stopping."""
    steps = int(cfg.steps)
    every = int(cfg.heldout_val_every if best else cfg.val_every)
    checkpoints = ModelCheckpoint(
        dirpath=out / CHECKPOINTS,
        save_last=True,
        save_top_k=0,
        every_n_train_steps=int(cfg.checkpoint_every),
    )
    return make_trainer(
        cfg,
        max_steps=steps,
        max_epochs=-1,
        logger=logger,
        callbacks=[checkpoints, *([best] if best else [])],
        val_check_interval=min(every, steps),
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        default_root_dir=str(out),
    )


def _resume_path(cfg: DictConfig, out: Path) -> str | None:
    """`resume=true` and a `last.ckpt` from a killed run: its path; else None (a fresh fit). The
    task needs to know before fitting (a resumed run skips the prosody-first fit), so this is
    decided here rather than by Lightning's ckpt_path="last"."""
    last = out / CHECKPOINTS / "last.ckpt"
    if not (cfg.resume and last.is_file()):
        return None
    log.info("resuming from %s", last)
    return str(last)


def _fit_prosody_first(cfg: DictConfig, module: VoicepackFit) -> list[dict]:
    """The prosody half alone, before the joint steps (when prosody_steps > 0): its per-step
    losses."""
    prosody_steps = _prosody_steps(cfg)
    if not prosody_steps:
        return []
    t0 = time.perf_counter()
    history = module.fit_prosody(
        prosody_steps, int(cfg.prosody_clips), float(cfg.prosody_lr), int(cfg.seed)
    )
    log.info(
        "prosody half: %d steps in %.0f s, loss %.3f -> %.3f",
        prosody_steps,
        time.perf_counter() - t0,
        history[0]["total"],
        history[-1]["total"],
    )
    return history


def _similarities(model, speaker, clips, voices: dict[str, VoicePack]) -> dict[str, float]:
    """Resemblyzer cosine, per voice, of clip 1's phonemes rendered with it to the centroid of
    the first 8 recordings."""
    refs = [c.audio.numpy() for c in clips[:8]]
    probe = clips[0].phonemes
    return {
        label: float(
            speaker.similarity_to_set(
                [Pipeline(model, p, seed=0).synthesize_phonemes(probe).audio.numpy()],
                refs,
                SAMPLE_RATE,
            ).mean()
        )
        for label, p in voices.items()
    }


def _write_alignment(path: Path, initial: dict[str, list[int]], clips) -> float:
    """Initial and final durations per clip to `path`; returns the mean absolute change in
    frames (the mean over clips of each clip's mean)."""
    final = {c.id: c.durations.tolist() for c in clips}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps({"initial": initial, "final": final})))
    changed = [
        (torch.tensor(final[k]) - torch.tensor(v)).abs().float().mean().item()
        for k, v in initial.items()
    ]
    return sum(changed) / len(changed)


def _loss_means(history: list[dict]) -> dict[str, dict[str, float]]:
    """Mean losses of the first 10 and the last 20 steps."""
    return {
        "losses_first_10": _mean_losses(history, slice(0, 10)),
        "losses_last_20": _mean_losses(history, slice(-20, None)),
    }


def _heldout_facts(best: BestHeldout, heldout) -> dict:
    """The held-out score: the best validation's speaker similarity (its style is the one
    saved), when it was reached and every validation's."""
    return {
        "heldout_clips": len(heldout),
        "heldout_similarity": best.best,
        "heldout_best_step": best.best_step,
        "heldout_history": best.history,
    }


def _run_facts(started: float, cpu_started: float) -> dict:
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "wall_seconds": wall,
        # this process's CPU time, all threads: the cost without other jobs' load
        "cpu_seconds": time.process_time() - cpu_started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "loadavg": list(os.getloadavg()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _log_final(logger, sims: dict[str, float], wall_s: float, sample: Path) -> None:
    """Final similarities, wall time and the sample to the wandb run, then finish it."""
    import wandb

    logger.experiment.summary.update(
        {f"final/speaker_sim_{k}": v for k, v in sims.items()} | {"final/wall_s": wall_s}
    )
    logger.experiment.log({"final/sample": wandb.Audio(str(sample), sample_rate=SAMPLE_RATE)})
    logger.experiment.finish()
