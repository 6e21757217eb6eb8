"""`configs/eval.yaml`'s schema: the keys of `scripts/evaluate.py`.

    python scripts/evaluate.py voices=[jf_alpha,jm_kumo] [text_file=FILE | data_dir=DIR] [key=value]

Scores every checkpoint x voice (and audio_dir=DIR name=NAME, existing 0001.wav ...) on one text
set; writes output_dir/metrics.json, report.md, PNG plots, audio/SYSTEM/NNNN.wav.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class Asr:
    """`asr`: the Whisper model that transcribes for WER."""

    model_path: str | None = None  # a CTranslate2 Whisper directory; null: the embedded tiny.en
    beam_size: int = 1  # greedy (5 = Whisper's default, about 2x slower)


@dataclass
class EvalConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    # where processes run (configs/trainer/*.yaml: synthesis, synthesis_ddp, ddp, ...); only
    # accelerator, devices, num_nodes and strategy are read (kokoro_lab.synthesis.distributed)
    trainer: dict[str, Any] = field(default_factory=dict)
    logger: Any = None  # configs/logger/*.yaml (instantiated); logger=none: no logger

    # What speaks
    voices: list[str] | None = None  # catalogue names or voicepacks (.pt); null: the default
    voices_dir: str | None = None  # a folder of NAME.pt voicepacks, used before the hub
    voice_path: str | None = None  # one more voicepack file, evaluated under its file name
    checkpoint: str | None = None  # null = embedded offline default; v1.0 | v0.19 = hub; a .pth
    # several checkpoints side by side: [embedded, /path/a.pth]; systems named VOICE@CKPT
    checkpoints: list[str] | None = None
    audio_dir: str | None = None  # existing WAVs 0001.wav, 0002.wav ... (one per text line)
    name: str | None = None  # the system name of audio_dir (default: the folder's name)

    # What is said
    text_file: str | None = None  # one utterance per non-empty line (UTF-8)
    # LJSpeech layout: metadata.csv (id|text[|normalized]) + wavs/ID.wav references
    data_dir: str | None = None
    num_sentences: int = 20  # without text_file/data_dir: the first N Harvard sentences (of 360)
    limit: int | None = None  # score only the first N utterances of any set
    score_references: bool = True  # with data_dir: also score the reference recordings

    # Synthesis
    lang: str = "en-us"  # the language spoken; the metrics are English (Whisper tiny.en)
    g2p: str | None = None  # misaki | espeak | espeak-ipa; default: each voice's
    speed: float = 1.0
    seed: int | None = 0  # excitation noise seed: the same text gives the same audio
    # cpu | cuda; null: the trainer's accelerator decides (an explicit accelerator that
    # disagrees with device= is an error; kokoro_lab/synthesis/distributed.py)
    device: str | None = None
    threads: int | None = None  # CPU threads per process (default: cores / processes)

    # Scoring and outputs
    asr: Asr = field(default_factory=Asr)
    # phoneme-length breakdown: N quantile buckets, or cut points [32, 40]
    length_buckets: Any = 3
    num_samples: int = 2  # utterances drawn (mel + F0) and logged as audio
    save_audio: bool = True  # write the synthesized audio to output_dir/audio/SYSTEM/NNNN.wav
    output_dir: str = "outputs/eval/${now:%Y-%m-%d_%H-%M-%S}"
