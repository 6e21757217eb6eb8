"""`configs/train.yaml`'s schema: the keys of `scripts/train.py`, and the training recipe's
defaults (`KokoroTraining` merges its arguments over the same dataclasses).

    python scripts/train.py experiment=tiny_overfit            (from scratch, tiny model, CPU)
    python scripts/train.py experiment=finetune data_dir=DIR   (Kokoro-82M on a new speaker)

The groups Hydra instantiates (`data`, `trainer`, `logger`, `callbacks`, `modules.*`) are open
mappings: their keys are their `_target_`'s arguments, checked against its signature
(kokoro_lab.schemas.validate).

`training.optim.lr_scales` keys are component names or parameter prefixes, and a prefix may
hold dots (`predictor.F0`), which a dotted override path would split into nested keys. Give such
keys inside a mapping, in a config or on the command line (quoted for the shell):

    'training.optim.lr_scales={predictor.F0: 0.5}'     (merged into the existing scales)
    +training.optim.lr_scales.decoder=0.1              (a name without dots: the dotted path)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class LossWeights:
    """`training.loss_weights`: each loss's weight in the generator's (or aligner's) total."""

    mel: float = 5.0  # StyleTTS 2's lambda_mel
    stft: float = 1.0
    adv: float = 1.0
    fm: float = 2.0  # feature matching, as HiFi-GAN
    align: float = 1.0  # forward-sum loss of the aligner
    bin: float = 1.0  # binarization loss (from schedule.bin_loss_start)
    dur: float = 1.0
    dur_ce: float = 20.0  # StyleTTS 2's lambda_ce
    f0: float = 1.0
    energy: float = 1.0


@dataclass
class Schedule:
    """`training.schedule`: the StyleTTS 2 stages as optimizer-step thresholds."""

    aligner_warmup: int = 0  # steps that train only the aligner
    # Stage 2, the prosody predictor joins. From scratch it learns durations from the aligner,
    # so it starts once the alignments have settled (2000 steps: the value every
    # `scripts/train.py` run has used); fine-tuning starts joint at once (experiment=finetune
    # sets 0), the tiny recipe at 700. This is the one default: KokoroTraining built from
    # Python uses it too (docs/training.md).
    joint_start: int = 2000
    adversarial_start: int = 0  # discriminators from this step (-1: never)
    bin_loss_start: int = 0


@dataclass
class Alignment:
    """`training.alignment`: where the durations the decoder is trained with come from."""

    # aligner: MAS on the learned alignment | reference: the batch's reference durations
    # (data.reference_durations) as they are
    source: str = "aligner"
    # weight of a log-prior band around data.reference_durations added before MAS (0: none)
    reference_prior: float = 0.0
    band: float = 2.0  # frames of slack of that band beyond half a token's reference duration


def _bert_at_a_tenth() -> dict[str, float]:
    return {"bert": 0.1}  # StyleTTS 2 trains PL-BERT at a tenth of the rate


@dataclass
class Optim:
    """`training.optim`: AdamW for the generator side (and the discriminators)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.99)  # StyleTTS 2
    eps: float = 1e-8
    weight_decay: float = 1e-4
    # lr multipliers by component (bert, decoder, ...) or parameter prefix
    # (style_encoder.unshared.bias); the longest match wins; a prefix matching no parameter is
    # an error. A prefix with dots goes inside a mapping (see the module docstring):
    #   'training.optim.lr_scales={predictor.F0: 0.5}'
    lr_scales: dict[str, float] = field(default_factory=_bert_at_a_tenth)
    discriminator_lr: float | None = None  # null: lr
    warmup_steps: int = 0  # linear warm-up
    decay_steps: int | None = None  # cosine decay over this many steps after warm-up; null: none
    min_lr_ratio: float = 0.1  # where the cosine ends, as a fraction of lr


@dataclass
class Training:
    """`training`: KokoroTraining's arguments (kokoro_lab/lightning/training.py)."""

    # all, or a subset of bert, bert_encoder, predictor, text_encoder, decoder, style_encoder,
    # predictor_encoder, aligner (e.g. [decoder] trains the decoder only)
    trainable: list[str] = field(default_factory=lambda: ["all"])
    segment_frames: int = 40  # decoder segment per clip and step, in 600-sample frames (1 s)
    style_frames: int = 80  # mel frames (300 samples) of the crop the style encoders read (>= 80)
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = 5.0
    dropout: bool = True  # false: no dropout anywhere (exact comparisons across world sizes)
    val_samples: int = 1  # clips of the first validation batch logged as audio and plots
    loss_weights: LossWeights = field(default_factory=LossWeights)
    alignment: Alignment = field(default_factory=Alignment)
    schedule: Schedule = field(default_factory=Schedule)
    optim: Optim = field(default_factory=Optim)


@dataclass
class Export:
    """`export`: what a finished run writes besides its checkpoints."""

    checkpoint: bool = True  # run_dir/kokoro.pth in the official v1.0 layout
    voicepacks: bool = True  # run_dir/voices/SPEAKER.pt from the style encoders


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    # pretrained (embedded Kokoro-82M v1.0) | scratch | v1.0 | v0.19 | FILE.pth
    init: str = "pretrained"
    init_voice: str | None = "jf_alpha"  # fine-tuning: the style encoders start from its mean
    data_dir: str | None = None  # LJSpeech layout: metadata.csv (id|text|speaker) + wavs/ID.wav
    # optional held-out clips (same layout); else data.val_size clips are held out
    val_dir: str | None = None
    seed: int = 0
    threads: int | None = None  # torch CPU threads per process
    # resume from run_dir/checkpoints/last.ckpt when present (null: never)
    ckpt_path: str | None = "last"
    validate_before_fit: bool = False  # also validate before and after fitting (summary: held_out)
    run_dir: str = "${hydra:runtime.output_dir}"
    output_dir: str = "${run_dir}"  # the name the shared logger configs use
    training: Training = field(default_factory=Training)
    export: Export = field(default_factory=Export)
    # Instantiated groups: open mappings, checked against their _target_'s signature.
    data: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)  # training-only modules, injected
    trainer: dict[str, Any] = field(default_factory=dict)
    logger: Any = None
    callbacks: dict[str, Any] = field(default_factory=dict)
