"""`python scripts/infer.py`: text (or phonemes) -> 24 kHz WAV, with the embedded default offline.

Voice resolution: `voice_path=FILE` (a voicepack used directly) > `+voice=NAME`
(configs/voice/NAME.yaml; `voices_dir=` holds NAME.pt files that take precedence over the hub) >
the embedded default voice. Language: `lang=` > the voice's catalogue language > en-us.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from kokoro_lab.acceleration.engine import apply_engine, require_cpu
from kokoro_lab.audio.io import write_wav
from kokoro_lab.errors import UserFileError, UserPermissionError, UserValueError
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.io import read_text_file
from kokoro_lab.model import load_model
from kokoro_lab.pipeline import Pipeline, check_speed
from kokoro_lab.runtime import process_state
from kokoro_lab.tasks.phonemize import frontend_for
from kokoro_lab.text.frontend import DEFAULT_LANG
from kokoro_lab.voices import VoicePack, load_voice

log = logging.getLogger(__name__)


@dataclass
class InferResult:
    paths: list[Path]
    phonemes: list[str]
    engine: str = "exact"  # the engine that ran (engine=fastest resolved)


def resolve_voice(cfg: DictConfig) -> tuple[VoicePack, str]:
    """The voicepack and espeak language a run uses (see the module docstring). `voice_mix=`
    (kokoro_lab.voice_mix) replaces the voice: the blend, in `lang=` or its first component's
    catalogue language."""
    voice_cfg = cfg.get("voice")
    if cfg.get("voice_mix") is not None:
        from kokoro_lab.voice_mix import load_voice_mix

        if cfg.get("voice_path") or voice_cfg is not None:
            other = f"voice_path={cfg.voice_path}" if cfg.get("voice_path") else "+voice="
            raise UserValueError(
                f"voice_mix={cfg.voice_mix} and {other} both choose the voice: pass only one "
                "(a mix can include that voice, e.g. voice_mix=af_bella:0.7+jf_alpha:0.3)"
            )
        mix = load_voice_mix(str(cfg.voice_mix), voices_dir=cfg.get("voices_dir"))
        return mix, cfg.get("lang") or mix.lang or DEFAULT_LANG
    if cfg.get("voice_path"):
        path = Path(cfg.voice_path)
        return VoicePack.load(path, name=path.stem), cfg.get("lang") or DEFAULT_LANG
    if voice_cfg is not None:
        voice = load_voice(voice_cfg.name, voices_dir=cfg.get("voices_dir"))
        return voice, cfg.get("lang") or voice_cfg.get("lang") or DEFAULT_LANG
    return load_voice(DEFAULT_VOICE), cfg.get("lang") or DEFAULT_LANG


def _inputs(cfg: DictConfig) -> tuple[str, str, bool]:
    """(kind, content, is_phonemes) from exactly one of text / text_file / phonemes /
    phonemes_file."""
    given = {k: cfg.get(k) for k in ("text", "text_file", "phonemes", "phonemes_file")}
    given = {k: v for k, v in given.items() if v is not None}
    if len(given) != 1:
        raise UserValueError(
            'pass exactly one of text="...", text_file=PATH, phonemes="IPA" or '
            f"phonemes_file=PATH (got {sorted(given) or 'none'})"
        )
    key, value = next(iter(given.items()))
    content = read_text_file(value) if key.endswith("_file") else str(value)
    if not content.strip():
        raise UserValueError(f"{key} is empty or whitespace only: give something to say")
    return key, content, key.startswith("phonemes")


def _check_output_dir(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserFileError(
            f"output directory {str(parent)!r} does not exist: create it or pass another output="
        )
    if not os.access(parent, os.W_OK):
        raise UserPermissionError(f"output directory {str(parent)!r} is not writable")


def make_pipeline(model, voice: VoicePack, lang: str, cfg: DictConfig, speed: float = 1.0):
    """The Pipeline a run speaks with: its voice and language, `g2p=` mode and `lexicon=`."""
    frontend = frontend_for(cfg, voice, lang)
    return Pipeline(model, voice, speed=speed, seed=cfg.get("seed"), g2p=frontend)


def _infer_lines(cfg: DictConfig, key: str, voice: VoicePack, lang: str, speed: float):
    """lines=true: the corpus synthesis job (kokoro_lab.tasks.synthesize) with this run's one
    voice, on one device of `device=`'s kind, in infer's flat layout `output_dir/0001.wav` ...
    (plus output_dir/manifest.tsv; a rerun skips the finished lines)."""
    from kokoro_lab.synthesis.corpus import lines_corpus
    from kokoro_lab.tasks.synthesize import run_corpus

    name = voice.name or "voice"
    utterances = lines_corpus(
        cfg[key],
        [name],
        phonemes=key == "phonemes_file",
        speed=speed,
        lang=lang,
        voice_folders=False,
    )
    result = run_corpus(cfg, utterances, [], presets={name: voice}, batch_size=cfg.batch_size)
    if result.bad:  # infer's exit 0 means every WAV was written
        raise UserValueError(
            f"{len(result.bad)} of {len(utterances)} lines could not be spoken (the others were "
            f"written): see {result.bad_rows}"
        )
    return InferResult(result.paths, [])


def infer(cfg: DictConfig) -> InferResult:
    """Synthesize per the config; returns the written WAV paths and the phonemes. `threads=`
    holds only while it runs (kokoro_lab.runtime.process_state)."""
    with process_state(threads=cfg.get("threads")):
        return _infer(cfg)


def _infer(cfg: DictConfig) -> InferResult:
    speed = check_speed(cfg.speed)
    key, content, is_phonemes = _inputs(cfg)
    lines = bool(cfg.get("lines"))
    if lines:
        if not key.endswith("_file") or not cfg.get("output_dir"):
            raise UserValueError("lines=true needs text_file= (or phonemes_file=) and output_dir=")
    else:
        _check_output_dir(Path(cfg.output))
    voice, lang = resolve_voice(cfg)
    if lines:
        if cfg.get("compile"):
            raise UserValueError(
                "compile=true is for one text (or a server); lines=true runs the corpus job, "
                "which does not compile: drop compile=true"
            )
        return _infer_lines(cfg, key, voice, lang, speed)
    require_cpu(cfg.engine, cfg.device)
    model = load_model(
        cfg.get("checkpoint"), config=model_config_from(cfg.model), device=cfg.device
    )
    engine = apply_engine(model, cfg.engine, compile=cfg.get("compile", False))
    pipeline = make_pipeline(model, voice, lang, cfg, speed)
    result = pipeline(phonemes=content) if is_phonemes else pipeline(text=content)
    path = write_wav(cfg.output, result.audio)
    if cfg.get("timestamps"):
        from kokoro_lab.timestamps import write_timestamps

        write_timestamps(result, Path(cfg.output).with_suffix(".json"))
    return InferResult([path], [c.phonemes for c in result.chunks], engine)
