"""`python scripts/evaluate.py`: score voices, checkpoints or existing WAVs side by side.

Systems: every checkpoint (`checkpoint=` or `checkpoints=[...]`) x every voice (`voices=[...]`:
catalogue names or voicepack paths; `voice_path=FILE` adds one more), plus `audio_dir=DIR`
(existing `0001.wav`, ... scored under `name=`), plus the reference recordings of `data_dir=`
(`score_references=true`). With neither voices nor audio_dir, the embedded default voice runs.
Outputs in `output_dir`: metrics.json, report.md, PNG plots, the synthesized WAVs
(`audio/SYSTEM/NNNN.wav`) and, with `logger=wandb` (the default, offline), a wandb run.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from kokoro_lab.errors import UserValueError
from kokoro_lab.evaluation import plots as plot
from kokoro_lab.evaluation.machine import environment
from kokoro_lab.evaluation.report import predictors, write_json, write_report
from kokoro_lab.evaluation.scoring import UtteranceScorer
from kokoro_lab.evaluation.sets import EvalSet, eval_set_from_config
from kokoro_lab.evaluation.summary import DEFINITIONS, UTTERANCE_DEFINITIONS
from kokoro_lab.evaluation.systems import RecordedSystem, SynthesizedSystem, count_files
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.lightning.evaluation import EvaluationModule, EvaluationResult, run_evaluation
from kokoro_lab.metrics import DNSMOS, SpeakerSimilarity, WhisperASR
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline, check_speed
from kokoro_lab.runtime import allocator_tuned as is_allocator_tuned
from kokoro_lab.runtime import process_state
from kokoro_lab.synthesis.distributed import sharded_trainer
from kokoro_lab.synthesis.plan import checkpoint_identity
from kokoro_lab.synthesis.speakers import voice_sha256
from kokoro_lab.text import model_input_ids
from kokoro_lab.text.frontend import make_frontend
from kokoro_lab.voices import load_voice

log = logging.getLogger(__name__)

DEFAULT_LANG = "en-us"  # the metrics (Whisper tiny.en, text normalization) are English
REFERENCE_SYSTEM = "reference"


@dataclass
class EvaluationOutput:
    output_dir: Path
    metrics: dict
    report: Path
    plots: list[Path] = field(default_factory=list)


def synthesized_systems(cfg: DictConfig, lang: str) -> list[SynthesizedSystem]:
    """checkpoints x voices (see the module docstring)."""
    voices = [str(v) for v in (cfg.get("voices") or [])]
    if cfg.get("voice_path"):
        voices.append(str(cfg.voice_path))
    if not voices and not cfg.get("audio_dir"):
        voices = [DEFAULT_VOICE]
    if not voices:
        return []
    sources = list(cfg.get("checkpoints") or [cfg.get("checkpoint")])
    speed = check_speed(cfg.speed)
    packs = [(v, load_voice(v, cfg.get("voices_dir"))) for v in voices]  # a file: named by stem
    systems = []
    for source in sources:
        label, path, sha = checkpoint_identity(source)
        # on the CPU: the evaluation module moves it to the trainer's device
        model = load_model(source, config=model_config_from(cfg.model), device="cpu")
        for given, voice in packs:
            voice_name = voice.name
            name = voice_name if len(sources) == 1 else f"{voice_name}@{label}"
            produced_by = {
                "kind": "synthesis",
                "model": f"Kokoro-82M ({cfg.model.name}), kokoro_lab.model.KokoroModel",
                "checkpoint": label,
                "checkpoint_path": str(path),
                "checkpoint_sha256": sha,
                "voice": voice_name,
                "voice_source": given,
                "voice_sha256": voice_sha256(voice),
                "lang": lang,
                "speed": speed,
                "seed": cfg.get("seed"),
                "device": str(cfg.device or "the trainer's accelerator"),
            }
            pipeline = Pipeline(
                model, voice, lang=lang, speed=speed, seed=cfg.get("seed"), g2p=cfg.get("g2p")
            )
            produced_by["g2p"] = pipeline.frontend.mode
            systems.append(SynthesizedSystem(name, pipeline, produced_by))
    return systems


def recorded_systems(cfg: DictConfig, eval_set: EvalSet) -> list[RecordedSystem]:
    systems = []
    if cfg.get("audio_dir"):
        audio_dir = Path(cfg.audio_dir)
        name = cfg.get("name") or audio_dir.resolve().name
        system = RecordedSystem(name, audio_dir, {"kind": "audio_dir", "audio_dir": str(audio_dir)})
        system.check(eval_set)
        system.produced_by["wav_files_in_dir"] = count_files(audio_dir)
        systems.append(system)
    elif cfg.get("name"):
        raise UserValueError("name= labels the WAVs of audio_dir=: pass audio_dir=DIR as well")
    if eval_set.has_references and cfg.get("score_references"):
        produced_by = {"kind": "references", "data_dir": str(cfg.data_dir)}
        systems.append(RecordedSystem(REFERENCE_SYSTEM, None, produced_by, kind="references"))
    return systems


def phoneme_counts(eval_set: EvalSet, lang: str, g2p: str | None = None) -> dict[int, int]:
    """Phoneme tokens of each item's text (the run's front end; misaki unless `g2p` says
    otherwise), by item index."""
    frontend = make_frontend(lang, g2p)
    return {
        item.index: sum(len(model_input_ids(c.phonemes)) - 2 for c in frontend.chunks(item.text))
        for item in eval_set.items
    }


def _check_names(systems: list) -> None:
    names = [s.name for s in systems]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserValueError(
            f"two systems are named {duplicates[0]!r}: give the voicepack files different "
            "names, or pass name= for audio_dir"
        )


def write_plots(result: EvaluationResult, names: list[str], out: Path, scorer) -> list[Path]:
    paths = [
        plot.metric_bars(result.summary, out / "metrics_by_system.png"),
        plot.wer_distribution(result.rows, names, out / "wer_distribution.png"),
        plot.by_length(result.summary, out / "metrics_by_length.png"),
    ]
    colors = plot.system_colors(names)
    for index in sorted({s.item.index for s in result.samples}):
        samples = [s for s in result.samples if s.item.index == index]
        item = samples[0].item
        clips = [(s.system, s.rendered.audio, s.rendered.sample_rate) for s in samples]
        reference = scorer.reference(item)
        if reference is not None and not any(s.system == REFERENCE_SYSTEM for s in samples):
            clips.insert(0, (REFERENCE_SYSTEM, *reference))
        title = f"utterance {item.id}: {item.text}"
        paths.append(plot.sample_figure(title, clips, colors, out / f"sample_{item.id}.png"))
    return paths


def log_to_wandb(logger, result: EvaluationResult, plots: list[Path]) -> None:
    """Audio samples, the plots and the per-utterance table to the wandb run; then finish it
    (an offline run is complete on disk only after finishing)."""
    import wandb

    run = logger.experiment
    payload = {
        f"audio/{s.system}/{s.item.id}": wandb.Audio(
            s.rendered.audio, sample_rate=s.rendered.sample_rate, caption=s.item.text
        )
        for s in result.samples
    }
    payload.update({f"plots/{p.stem}": wandb.Image(str(p)) for p in plots})
    columns = ["system", "id", "text", "transcript", "wer", "cer", "mos", "rtf", "n_phonemes"]
    payload["utterances"] = wandb.Table(
        columns=columns, data=[[r[c] for c in columns] for r in result.rows]
    )
    run.log(payload)
    run.finish()


def _command() -> str | None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return "python scripts/evaluate.py " + " ".join(HydraConfig.get().overrides.task)


def _output_dir(cfg: DictConfig) -> Path:
    """`output_dir`, the same on every rank: a DDP rank started by Lightning re-runs the command
    with rank 0's `hydra.run.dir` (which eval.yaml sets to output_dir), while a `${now:...}` in
    output_dir would resolve anew in it."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.output_dir)


def evaluate(cfg: DictConfig) -> EvaluationOutput | None:
    """Run the evaluation a config describes; returns what it wrote (on DDP ranks other than
    0: None, rank 0 writes). Threads and the tuned allocator (fewer page faults per forward
    pass: a faster RTF) hold only while it runs."""
    with process_state(threads=cfg.get("threads"), tune_malloc=True):
        return _evaluate(cfg)


def _evaluate(cfg: DictConfig) -> EvaluationOutput | None:
    started = time.perf_counter()
    load_before = os.getloadavg()
    lang = cfg.get("lang") or DEFAULT_LANG
    eval_set = eval_set_from_config(cfg)
    allocator_tuned = is_allocator_tuned()
    recorded = recorded_systems(cfg, eval_set)
    systems = [*synthesized_systems(cfg, lang), *recorded]
    _check_names(systems)
    out = _output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)

    scorer = UtteranceScorer(
        asr=WhisperASR(model_path=cfg.asr.model_path, beam_size=cfg.asr.beam_size),
        mos=DNSMOS(),
        speaker=SpeakerSimilarity(),
    )
    sample_indices = tuple(item.index for item in eval_set.items[: cfg.num_samples])
    module = EvaluationModule(
        systems,
        eval_set,
        scorer,
        phoneme_counts(eval_set, lang, cfg.get("g2p")),
        length_buckets=OmegaConf.to_object(cfg.length_buckets)
        if OmegaConf.is_config(cfg.length_buckets)
        else cfg.length_buckets,
        sample_indices=sample_indices,
        audio_dir=out / "audio" if cfg.save_audio else None,
        threads=cfg.get("threads"),
    )
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = sharded_trainer(cfg.get("trainer"), cfg.get("device"), out, logger=logger)
    result = run_evaluation(module, trainer)
    if result is None:  # a DDP rank other than 0: its rows went to rank 0
        return None
    load_after = os.getloadavg()
    env = environment(packages=("kokoro_lab",))
    del env["load_average_1_5_15min"]  # one reading: the run's before and after instead

    names = [s.name for s in systems]
    plots = write_plots(result, names, out, scorer)
    metrics = {
        "systems": {
            s.name: {
                **result.summary[s.name],
                "mos_predictor": scorer.mos.name,
                "produced_by": s.produced_by,
            }
            for s in systems
        },
        "definitions": DEFINITIONS,
        "utterance_definitions": UTTERANCE_DEFINITIONS,
        "predictors": predictors(scorer),
        "eval_set": {
            "name": eval_set.name,
            **eval_set.source,
            "n_utterances": len(eval_set),
            "lang": lang,
            "length_bucket_cuts": result.length_cuts,
        },
        "config": OmegaConf.to_container(cfg, resolve=True),
        "environment": {
            **env,
            "load_average_1_5_15min_before": list(load_before),
            "load_average_1_5_15min_after": list(load_after),
            "allocator_tuned": allocator_tuned,
            "processes": trainer.world_size,
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - started,
        "plots": [p.name for p in plots],
        "utterances": result.rows,
    }
    write_json(out / "metrics.json", metrics)
    report = write_report(out / "report.md", metrics, [p.name for p in plots], _command())
    if logger:
        log_to_wandb(logger, result, plots)
    log.info("wrote %s and %s", out / "metrics.json", report)
    return EvaluationOutput(out, metrics, report, plots)
