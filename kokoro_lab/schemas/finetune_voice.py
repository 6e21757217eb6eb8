"""`configs/finetune_voice.yaml`'s schema: the keys of `scripts/finetune_voice.py`.

    python scripts/finetune_voice.py data_dir=DIR name=NAME [init_voice=VOICE] [key=value ...]
    python scripts/finetune_voice.py audio=FILE [text="..."] name=NAME [key=value ...]

Fits a [510, 1, 256] voicepack for the frozen model to a speaker folder (metadata.csv id|text or
id|text|normalized, wavs/ID.wav); writes OUT/NAME.pt, OUT/NAME.wav, OUT/metrics.json. Why each
default: docs/finetune_voice.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class FitWeights:
    """`weights`: the fit's loss weights (kokoro_lab/lightning/voice_fitting.py)."""

    # off: with pyin F0 driving the decoder its fine harmonic structure favours a wrong voice
    # over the target (docs)
    stft: float = 0.0
    mel: float = 1.0
    mel_mean: float = 1.0
    duration_ce: float = 1.0
    duration_l1: float = 0.2
    f0: float = 1.0
    energy: float = 1.0
    prior: float = 0.1
    spread: float = 1.0


@dataclass
class FinetuneVoiceConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    logger: Any = None  # configs/logger/*.yaml (instantiated)
    data_dir: str | None = None  # the speaker folder (LJSpeech layout, any sample rate)
    # or one recording (WAV/FLAC/MP3, 5-60 s, any rate; docs/one_clip_voice.md)
    audio: str | None = None
    text: str | None = None  # audio's transcript; null: Whisper tiny.en's (English only)
    heldout_every: int = 4  # audio: every Nth utterance is held out (at least one)
    heldout_val_every: int = 15  # audio: steps between held-out validations
    # audio: held-out validations without a gain before the fit stops (the best style is kept)
    early_stop_patience: int = 2
    name: str | None = None  # the voice name: OUT/NAME.pt
    # a voice name or .pt path | mean (of the available voices) | auto (closest by speaker
    # similarity)
    init_voice: str = "auto"
    init_exclude: list[str] = field(default_factory=list)  # voices auto and mean leave out
    output_dir: str = "voices"
    lang: str = "en-us"  # espeak language of the transcripts
    checkpoint: str | None = None  # null = embedded offline weights; v1.0 | v0.19 | a .pth
    voices_dir: str | None = None  # more NAME.pt voicepacks: candidates for auto/mean, the prior
    prior_voices: list[str] | None = None  # the style prior's voices; null: every available one
    # covariance shrinkage toward its diagonal: few voices make the full covariance overconfident
    prior_shrinkage: float = 0.9

    # Fitting
    # joint optimizer steps; one clip decoded whole each (plus prosody_clips - 1 for the
    # predictor when prosody_steps: 0)
    steps: int = 45
    lr: float = 0.05  # Adam on the decoder half's offset (half-cosine decay to 5%)
    # the prosody half is fitted first, alone (predictor only: ~1 s a step), then held during
    # the steps above; 0: fitted jointly with them
    prosody_steps: int = 150
    prosody_lr: float = 0.03  # Adam on the prosody half's offset (half-cosine decay to 5%)
    # decoder crop per step; null: the whole clip (AdaIN normalizes over time: a crop decoded
    # alone is biased, docs)
    crop_seconds: float | None = None
    prosody_clips: int = 4  # clips whose prosody losses are averaged per prosody step
    anchors: int = 1  # rows with their own fitted offset (1: one offset for the whole table)
    # dtw: render with the start voice, DTW its mel to the recording's | rescale: predicted
    # durations scaled to the clip
    align: str = "dtw"
    # fractions of steps at which clips are re-aligned with the fitted style (e.g. [0.5])
    realign_at: list[float] = field(default_factory=list)
    weights: FitWeights = field(default_factory=FitWeights)
    max_clips: int | None = None  # use only the first N rows
    seed: int = 0
    device: str = "cpu"  # cpu | cuda
    # CPU threads for torch; 1: on the shared 2-core box, 2 threads ran 8x slower under load
    # (docs/finetune_voice.md)
    threads: int | None = 1

    # Tracking
    val_every: int = 60  # steps between validations (render, speaker similarity, audio, plots)
    val_clips: int = 1  # clips rendered and scored per validation
    checkpoint_every: int = 20  # steps between Lightning checkpoints (OUT/checkpoints/last.ckpt)
    resume: bool = True  # continue from OUT/checkpoints/last.ckpt when it exists
    sample_text: str = "The birch canoe slid on the smooth planks."
