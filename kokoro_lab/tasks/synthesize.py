"""`python scripts/synthesize.py`: a corpus of WAVs from a text, phoneme or manifest file, on
every device and node the trainer config names (docs/synthesis.md).

    python scripts/synthesize.py text_file=FILE "voices=[jf_alpha,jm_kumo]" output_dir=DIR
    python scripts/synthesize.py manifest=FILE output_dir=DIR trainer=ddp trainer.devices=2

Text or phoneme file x voices: `DIR/VOICE/0001.wav` ... (the number is the non-empty line's);
manifest (`id|text|voice|speed|lang` header): `DIR/ID.wav`. Both: `DIR/manifest.tsv`, and
`DIR/bad_rows.tsv` for rows kept out (exit status 3, `ROWS_SKIPPED_EXIT`). A rerun in the same
DIR skips every WAV that is whole and made with the same config.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import partial

import torch
from omegaconf import DictConfig

from kokoro_lab.acceleration.engine import apply_engine, check_engine, require_cpu
from kokoro_lab.errors import UserValueError
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.io import sha256_file
from kokoro_lab.lightning.inference import CorpusResult, synthesize_corpus
from kokoro_lab.model import load_model
from kokoro_lab.runtime import process_state
from kokoro_lab.synthesis.corpus import BadRow, Utterance, lines_corpus, manifest_corpus
from kokoro_lab.synthesis.distributed import sharded_trainer
from kokoro_lab.synthesis.plan import checkpoint_identity, plan_corpus
from kokoro_lab.synthesis.speakers import Speakers
from kokoro_lab.text.lexicon import load_lexicon
from kokoro_lab.voices import VoicePack

log = logging.getLogger(__name__)

#: The exit status of a run that rendered what it could but kept some input rows out.
ROWS_SKIPPED_EXIT = 3


def corpus_from_config(cfg: DictConfig) -> tuple[list[Utterance], list[BadRow]]:
    """The utterances of exactly one of text_file= / phonemes_file= / manifest=."""
    given = [k for k in ("text_file", "phonemes_file", "manifest") if cfg.get(k)]
    if len(given) != 1:
        raise UserValueError(
            "pass exactly one of text_file=PATH, phonemes_file=PATH or manifest=PATH "
            f"(got {given or 'none'})"
        )
    voices = [str(v) for v in (cfg.get("voices") or [DEFAULT_VOICE])]
    if given[0] == "manifest":
        if len(voices) > 1:
            raise UserValueError(
                f"voices={voices}: a manifest names each row's voice (a `voice` column); "
                "voices= may give one default voice for rows without one"
            )
        return manifest_corpus(cfg.manifest, voices[0], speed=cfg.speed, lang=cfg.get("lang"))
    key = given[0]
    utterances = lines_corpus(
        cfg[key], voices, phonemes=key == "phonemes_file", speed=cfg.speed, lang=cfg.get("lang")
    )
    return utterances, []


def run_settings(cfg: DictConfig) -> dict:
    """What decides the audio besides each line's own voice, language, speed and text."""
    _, _, checkpoint_sha = checkpoint_identity(cfg.get("checkpoint"))
    settings = {
        "checkpoint_sha256": checkpoint_sha,
        "model": asdict(model_config_from(cfg.model)),
        "g2p": cfg.get("g2p"),
        "lexicon_sha256": sha256_file(cfg.lexicon) if cfg.get("lexicon") else None,
        "seed": cfg.get("seed"),
    }
    engine = check_engine(cfg.get("engine", "exact"))  # fastest: what it resolves to here
    if engine != "exact":  # (exact adds nothing: the hashes of exact runs stay as they were)
        settings["engine"] = engine
    return settings


def run_corpus(
    cfg: DictConfig,
    utterances: list[Utterance],
    bad: list[BadRow],
    trainer_cfg=None,
    presets: dict[str, VoicePack] | None = None,
    batch_size: int = 8,
) -> CorpusResult | None:
    """Load the model and voices, plan (what is finished, what is bad) and render the rest into
    `cfg.output_dir`; rank 0 gets the result, other ranks None. `trainer_cfg`: where processes
    run (None: one device of `cfg.device`'s kind)."""
    if cfg.get("engine", "exact") != "exact":
        accelerator = str((trainer_cfg or {}).get("accelerator") or "auto")
        if accelerator == "auto":
            accelerator = "cuda" if torch.cuda.is_available() else "cpu"
        require_cpu(cfg.engine, cfg.get("device") or accelerator)
    model = load_model(cfg.get("checkpoint"), config=model_config_from(cfg.model), device="cpu")
    engine = apply_engine(model, cfg.get("engine", "exact"))
    if engine != "exact":
        log.info("engine: %s", engine)
    lexicon = load_lexicon(cfg.lexicon) if cfg.get("lexicon") else None
    speakers = Speakers(
        model,
        voices_dir=cfg.get("voices_dir"),
        g2p=cfg.get("g2p"),
        lexicon=lexicon,
        seed=cfg.get("seed"),
        presets=presets,
    )
    plan = plan_corpus(cfg.output_dir, utterances, bad, speakers, run_settings(cfg))
    log.info(
        "%d utterances: %d to render, %d finished earlier, %d rows kept out",
        len(plan.utterances),
        len(plan.pending),
        len(plan.utterances) - len(plan.pending),
        len(plan.bad),
    )
    make = partial(sharded_trainer, trainer_cfg, cfg.get("device"), cfg.output_dir)
    return synthesize_corpus(make, speakers, plan, batch_size, cfg.get("threads"))


def synthesize(cfg: DictConfig) -> CorpusResult | None:
    """Render the corpus a config describes (see the module docstring). `threads=` holds only
    while it runs (kokoro_lab.runtime.process_state)."""
    if int(cfg.batch_size) < 1:
        raise UserValueError(f"batch_size={cfg.batch_size} must be at least 1")
    with process_state(threads=cfg.get("threads")):
        utterances, bad = corpus_from_config(cfg)
        return run_corpus(cfg, utterances, bad, cfg.get("trainer"), batch_size=cfg.batch_size)
