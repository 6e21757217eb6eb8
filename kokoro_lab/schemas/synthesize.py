"""`configs/synthesize.yaml`'s schema: every key of `scripts/synthesize.py`.

    python scripts/synthesize.py text_file=FILE "voices=[jf_alpha,jm_kumo]" output_dir=DIR
    python scripts/synthesize.py manifest=FILE output_dir=DIR [trainer=ddp trainer.devices=2]

Inputs, layouts, resuming and exit codes: kokoro_lab/tasks/synthesize.py and docs/synthesis.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class SynthesizeConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    checkpoint: str | None = None  # null/embedded = offline default; v1.0 | v0.19 = hub; a .pth
    # where processes run (configs/trainer/*.yaml: synthesis, synthesis_ddp, ddp, ...); only
    # accelerator, devices, num_nodes and strategy are read (kokoro_lab.synthesis.distributed)
    trainer: dict[str, Any] = field(default_factory=dict)

    # What is said: exactly one input
    text_file: str | None = None  # one utterance per non-empty line (UTF-8)
    phonemes_file: str | None = None  # one IPA string per non-empty line (no G2P)
    manifest: str | None = None  # pipe-separated, header row: id|text[|voice][|speed][|lang]
    # who says it: catalogue names, voicepack paths or mixes (jf_alpha:0.7+jm_kumo:0.3); null:
    # the embedded default; with manifest=, one default for rows without a voice column
    voices: list[str] | None = None
    voices_dir: str | None = None  # a folder of NAME.pt voicepacks, used before the hub

    # How it is said
    lang: str | None = None  # default: each voice's catalogue language, else en-us
    g2p: str | None = None  # misaki | espeak | espeak-ipa; default: each voice's
    lexicon: str | None = None  # a UTF-8 file of word<TAB>phonemes lines, in every g2p mode
    speed: float = 1.0  # (0, 4]; a manifest's speed column wins per row
    seed: int | None = 0  # excitation noise seed (chunk i of a line uses seed + i)

    # How it runs
    # cpu | cuda | cuda:N; null: the trainer's accelerator decides (an explicit accelerator
    # that disagrees with device= is an error)
    device: str | None = None
    # exact (float32, the default: seed=0 gives the same audio bit for bit on any CPU) | int8 |
    # bf16 (CPUs with bf16 units) | onnx (onnxruntime on our int8 export, made once and cached;
    # fixed noise) | fastest (the measured-fastest of those for this CPU, printed);
    # kokoro_lab/acceleration/engine.py, docs/benchmarks.md. The non-exact engines run on CPU.
    engine: str = "exact"
    threads: int | None = None  # torch CPU threads per process (default: cores / processes)
    batch_size: int = 8  # lines per padded batch (docs/synthesis_layouts.json)
    output_dir: str = "${hydra:runtime.output_dir}"
