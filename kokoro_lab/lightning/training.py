"""StyleTTS 2-style training of Kokoro as a LightningModule with manual GAN optimization.

Axes: b batch, t tokens, f alignment frames (600 samples), F mel frames (300 samples, F = 2f),
L segment frames, n samples, m mel bins, s style (one half of a voicepack row).

One training step, per batch:
  aligner(tokens, mel) -> soft alignment -> forward-sum loss; MAS -> durations (b, t)
    (optionally guided by a prior band around reference durations: see DEFAULT_ALIGNMENT)
  style_encoder / predictor_encoder(a random mel crop of the clip) -> style = [acoustic | prosodic]
  text_encoder(tokens) expanded by the durations, cut to a random L-frame segment,
  decoder(segment, real F0 (pyin), real energy N, acoustic style) -> audio
  -> mel + multi-resolution STFT losses; LSGAN + feature matching once adversarial training starts
  joint stage: predictor(bert(tokens), prosodic style, durations) -> duration, F0, N losses

Schedule (the StyleTTS 2 two stages, as step thresholds): an optional aligner-only warm-up
(it keeps a random aligner's durations away from a decoder until it has learned something), the
acoustic stage (aligner, style encoder, text encoder, decoder), then the joint stage that adds the
prosody predictor. From scratch the predictor learns durations from the aligner, so it starts
once the alignments have settled instead of chasing a moving target; fine-tuning, where
durations come from the pretrained model's prior from the first step, starts joint at once.
The decoder always hears the real F0 and N, as in StyleTTS 2, so the stages do not change what
it is asked to do; adversarial training has its own start step (it doubles the step cost).

Reproducibility: the global RNG is reseeded every batch from (seed, epoch, batch, rank), and
crops and excitation noise are drawn per clip from (seed, epoch, clip index), so a run resumed
from a checkpoint takes exactly the steps the uninterrupted run took, and a global batch split
over processes sees the same crops and noise as in one process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from einops import rearrange
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn

from kokoro_lab.data.features import (
    FeatureSettings,
    LogMelSpectrogram,
    energy_from_log_mel,
    normalize_log_mel,
)
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.losses import (
    MultiResolutionSTFTLoss,
    bin_loss,
    discriminator_loss,
    duration_losses,
    energy_loss,
    f0_loss,
    feature_matching_loss,
    forward_sum_loss,
    generator_adversarial_loss,
    mel_loss,
)
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.adain import InstanceNorm
from kokoro_lab.modules.aligner import (
    AlignmentEncoder,
    durations_to_path,
    monotonic_alignment,
    reference_log_prior,
)
from kokoro_lab.modules.alignment import expand_to_frames, frame_to_token
from kokoro_lab.modules.discriminators import Discriminators
from kokoro_lab.modules.style_encoder import MIN_FRAMES as STYLE_MIN_FRAMES
from kokoro_lab.modules.style_encoder import StyleEncoder

log = logging.getLogger(__name__)

#: Kokoro's own components, then the training-only ones (StyleTTS 2 names).
MODEL_COMPONENTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
COMPONENTS = (*MODEL_COMPONENTS, "style_encoder", "predictor_encoder", "aligner")
#: What the duration, F0 and energy losses reach: with all of it frozen the joint stage skips them.
PROSODY_COMPONENTS = ("bert", "bert_encoder", "predictor", "predictor_encoder")
DEFAULT_WEIGHTS = {
    "mel": 5.0,  # StyleTTS 2's lambda_mel
    "stft": 1.0,
    "adv": 1.0,
    "fm": 2.0,  # HiFi-GAN
    "align": 1.0,
    "bin": 1.0,
    "dur": 1.0,
    "dur_ce": 20.0,  # StyleTTS 2's lambda_ce
    "f0": 1.0,
    "energy": 1.0,
}
DEFAULT_SCHEDULE = {
    "aligner_warmup": 0,
    "joint_start": 0,
    "adversarial_start": 0,  # -1: never
    "bin_loss_start": 0,
}
#: Non-finite batches in a row before training gives up.
MAX_SKIPPED = 10
DEFAULT_ALIGNMENT = {
    # "aligner": durations by MAS on the learned alignment; "reference": the batch's
    # ref_durations (data.reference_durations) are used as they are.
    "source": "aligner",
    # weight of a log-prior band around the reference durations added before MAS (0: none)
    "reference_prior": 0.0,
    "band": 2.0,  # frames of slack of that band beyond half a token's reference duration
}
DEFAULT_OPTIM = {
    "lr": 1e-4,
    "betas": (0.0, 0.99),  # StyleTTS 2
    "eps": 1e-8,
    "weight_decay": 1e-4,
    # lr multipliers by component or parameter prefix (the longest match wins); StyleTTS 2
    # trains PL-BERT at a tenth of the rate
    "lr_scales": {"bert": 0.1},
    "discriminator_lr": None,  # None: lr
    "warmup_steps": 0,
    "decay_steps": None,  # cosine decay over this many steps after warm-up; None: constant
    "min_lr_ratio": 0.1,
}


def _mix(*parts: int) -> int:
    """Deterministic 63-bit seed from integers (a 64-bit LCG-style mix)."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h * 6364136223846793005 + int(p) + 1442695040888963407) % (1 << 63)
    return h


class KokoroTraining(L.LightningModule):
    """Holds a KokoroModel and the training-only modules; contains no architecture.

    `trainable`: component names to train (`all`, or a subset of COMPONENTS, e.g. `[decoder,
    style_encoder]` to train the decoder only); the rest are frozen and kept in eval mode.
    `segment_frames`: L, the alignment frames (600 samples) the decoder renders per clip and
    step; `style_frames`: the mel frames (300 samples) of the crop the style encoders read.
    Clips must be at least max(L, style_frames / 2) frames long. `dropout=False` disables
    dropout everywhere (exact comparisons between runs of different world sizes).
    """

    def __init__(
        self,
        model: KokoroModel,
        style_encoder: StyleEncoder,
        predictor_encoder: StyleEncoder,
        aligner: AlignmentEncoder,
        discriminator: Discriminators | None = None,
        *,
        loss_weights: dict | None = None,
        schedule: dict | None = None,
        optim: dict | None = None,
        trainable: Sequence[str] = ("all",),
        segment_frames: int = 40,
        style_frames: int = 80,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = 5.0,
        dropout: bool = True,
        seed: int = 0,
        features: dict | None = None,
        val_samples: int = 1,
        alignment: dict | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(
            ignore=["model", "style_encoder", "predictor_encoder", "aligner", "discriminator"]
        )
        self.automatic_optimization = False
        self.model = model
        self.style_encoder = style_encoder
        self.predictor_encoder = predictor_encoder
        self.aligner = aligner
        self.discriminator = discriminator
        self.weights = {**DEFAULT_WEIGHTS, **(loss_weights or {})}
        self.schedule = {**DEFAULT_SCHEDULE, **(schedule or {})}
        self.optim = {**DEFAULT_OPTIM, **(optim or {})}
        self.alignment = {**DEFAULT_ALIGNMENT, **(alignment or {})}
        if self.alignment["source"] not in ("aligner", "reference"):
            raise UserValueError(
                f"alignment.source={self.alignment['source']!r}: aligner|reference"
            )
        unknown = set(trainable) - set(COMPONENTS) - {"all"}
        if unknown:
            raise UserValueError(
                f"trainable={list(trainable)}: unknown {sorted(unknown)}; use "
                f"'all' or names from {list(COMPONENTS)}"
            )
        self.trainable = list(COMPONENTS) if "all" in trainable else list(trainable)
        self.frozen = [c for c in COMPONENTS if c not in self.trainable]
        self.prosody_trains = any(c in self.trainable for c in PROSODY_COMPONENTS)
        if style_frames < STYLE_MIN_FRAMES:
            raise UserValueError(
                f"style_frames={style_frames}: the style encoders need >= {STYLE_MIN_FRAMES}"
            )
        self.segment_frames, self.style_frames = segment_frames, style_frames
        self.accumulate = accumulate_grad_batches
        self.clip = gradient_clip_val
        self.dropout = dropout
        self.seed = seed
        self.val_samples = val_samples
        self.feature_settings = FeatureSettings(**(features or {}))
        self.mel = LogMelSpectrogram(self.feature_settings)
        self.stft_loss = MultiResolutionSTFTLoss()
        self.step_losses: dict[str, float] = {}
        for name in self.frozen:
            self.component(name).requires_grad_(False)
        # AdaIN's affine pair stays the identity, as in StyleTTS 2 (InstanceNorm1d(affine=False));
        # Kokoro declares it only for ONNX export (see modules/adain.py).
        for m in self.modules():
            if isinstance(m, InstanceNorm):
                m.requires_grad_(False)

    # -- structure ---------------------------------------------------------------------------

    def component(self, name: str) -> nn.Module:
        return getattr(self.model, name) if name in MODEL_COMPONENTS else getattr(self, name)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            for name in self.frozen:
                self.component(name).eval()
            if not self.dropout:
                self.model.bert.eval()  # PL-BERT uses functional dropout keyed on .training
                for m in self.modules():
                    if isinstance(m, nn.Dropout):
                        m.eval()
        return self

    def stage(self, step: int | None = None) -> str:
        """'align' (aligner warm-up), 'acoustic' or 'joint' at optimizer step `step`."""
        step = self.global_step if step is None else step
        if step < self.schedule["aligner_warmup"]:
            return "align"
        return "joint" if step >= self.schedule["joint_start"] else "acoustic"

    def adversarial(self, step: int | None = None) -> bool:
        step = self.global_step if step is None else step
        start = self.schedule["adversarial_start"]
        return (
            self.discriminator is not None
            and start >= 0
            and step >= start
            and self.weights["adv"] + self.weights["fm"] > 0
        )

    # -- optimizers --------------------------------------------------------------------------

    def configure_optimizers(self):
        o = self.optim
        scales = {k: float(v) for k, v in (o["lr_scales"] or {}).items()}
        every = {f"{c}.{n}": p for c in COMPONENTS for n, p in self.component(c).named_parameters()}
        unknown = [k for k in scales if not any(n.startswith(k) for n in every)]
        if unknown:
            raise UserValueError(
                f"optim.lr_scales: {unknown} match no parameter; use component names "
                f"({', '.join(COMPONENTS)}) or parameter prefixes like style_encoder.unshared.bias"
            )
        named = {n: p for n, p in every.items() if p.requires_grad}
        groups: dict[float, list] = {}  # one parameter group per learning-rate multiplier
        for name, p in named.items():
            matches = [k for k in scales if name == k or name.startswith(k + ".")]
            scale = scales[max(matches, key=len)] if matches else 1.0
            groups.setdefault(scale, []).append(p)
        g_opt = torch.optim.AdamW(
            [{"params": ps, "lr": o["lr"] * s} for s, ps in groups.items()],
            betas=tuple(o["betas"]),
            eps=o["eps"],
            weight_decay=o["weight_decay"],
        )
        warmup = max(int(o["warmup_steps"]), 0)
        decay, floor = o["decay_steps"], float(o["min_lr_ratio"])

        def ramp(step: int) -> float:
            """Linear warm-up, then constant or a cosine down to min_lr_ratio."""
            if step < warmup:
                return (step + 1) / warmup
            if not decay:
                return 1.0
            progress = min((step - warmup) / decay, 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        schedulers = [torch.optim.lr_scheduler.LambdaLR(g_opt, ramp)]
        if self.discriminator is None:
            return [g_opt], schedulers
        d_opt = torch.optim.AdamW(
            self.discriminator.parameters(),
            lr=o["discriminator_lr"] or o["lr"],
            betas=tuple(o["betas"]),
            eps=o["eps"],
            weight_decay=o["weight_decay"],
        )
        schedulers.append(torch.optim.lr_scheduler.LambdaLR(d_opt, ramp))
        return [g_opt, d_opt], schedulers

    def _optimizers(self):
        opts = self.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        scheds = self.lr_schedulers()
        scheds = scheds if isinstance(scheds, list) else [scheds]
        return opts, scheds

    def _discriminator_update(self, d_opt) -> None:
        """Step the discriminator without advancing `global_step`.

        Lightning counts every LightningOptimizer.step of manual optimization as a global step;
        stepping D through the strategy keeps global_step = generator updates, so max_steps,
        checkpoint intervals and the stage thresholds count what they say.
        """
        if self.clip:
            self.clip_gradients(d_opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        self.trainer.strategy.optimizer_step(d_opt.optimizer, closure=lambda: None)

    # -- randomness --------------------------------------------------------------------------

    def _item_generator(self, index: int, salt: int) -> torch.Generator:
        g = torch.Generator(self.device)
        g.manual_seed(_mix(self.seed, self.current_epoch, index, salt))
        return g

    def _offsets(self, indices: Tensor, lengths: Tensor, window: int, salt: int) -> list[int]:
        """One start per clip in [0, length - window], drawn from the clip's own generator."""
        out = []
        for i, n in zip(indices.tolist(), lengths.tolist()):
            g = torch.Generator().manual_seed(_mix(self.seed, self.current_epoch, i, salt))
            out.append(int(torch.randint(0, max(int(n) - window, 0) + 1, (1,), generator=g)))
        return out

    # -- the shared forward pieces -----------------------------------------------------------

    def align(self, batch: dict) -> dict:
        """Aligner forward and MAS: log_attn / logits (b, f, t), durations (b, t)."""
        tokens, tv, mv = batch["tokens"], batch["token_valid"], batch["mel_valid"]
        fv = mv[:, ::2]
        log_attn, logits = self.aligner(tokens, normalize_log_mel(batch["mel"]), tv, fv)
        token_lengths, frame_lengths = tv.sum(-1), fv.sum(-1)
        a = self.alignment
        if a["source"] == "reference":
            durations = batch["ref_durations"]
        elif a["reference_prior"] > 0 and "ref_durations" in batch:
            prior = reference_log_prior(batch["ref_durations"], fv.shape[1], a["band"])
            durations = monotonic_alignment(
                log_attn + a["reference_prior"] * prior, token_lengths, frame_lengths
            )
        else:
            durations = monotonic_alignment(log_attn, token_lengths, frame_lengths)
        return {
            "log_attn": log_attn,
            "logits": logits,
            "durations": durations,
            "token_lengths": token_lengths,
            "frame_lengths": frame_lengths,
        }

    def style(self, mel: Tensor) -> Tensor:
        """normalized log-mel crops (b, m, 2L) -> style rows (b, 2s) [acoustic | prosodic]."""
        return torch.cat([self.style_encoder(mel), self.predictor_encoder(mel)], dim=-1)

    @torch.no_grad()
    def clip_style(self, mel: Tensor) -> Tensor:
        """One clip's log-mel (m, F) -> its style row (2s,): the mean over half-overlapping
        windows of the training crop length, the input size the encoders were trained on."""
        window = self.style_frames
        starts = range(0, max(mel.shape[-1] - window, 0) + 1, window // 2)
        crops = torch.stack([mel[:, s : s + window] for s in starts])
        return self.style(normalize_log_mel(crops)).mean(0)

    def prosody_losses(self, batch, aligned, style) -> dict[str, Tensor]:
        tv, mv = batch["token_valid"], batch["mel_valid"]
        durations = aligned["durations"]
        prosody, d = self.model.predict_prosody(
            batch["tokens"], style, valid=tv, durations=durations
        )
        logits = self.model.predictor.duration_logits(d, tv)
        dur, ce = duration_losses(logits, durations, tv)
        frames = prosody.f0.shape[-1]
        energy = energy_from_log_mel(batch["mel"])[:, :frames]
        valid = mv[:, :frames]
        return {
            "dur": dur,
            "dur_ce": ce,
            "f0": f0_loss(prosody.f0, batch["f0"][:, :frames], valid),
            "energy": energy_loss(prosody.energy, energy, valid),
        }

    # -- training ----------------------------------------------------------------------------

    def training_step(self, batch: dict, batch_idx: int) -> None:
        torch.manual_seed(_mix(self.seed, self.current_epoch, batch_idx, self.global_rank))
        (g_opt, *d_opts), scheds = self._optimizers()
        d_opt = d_opts[0] if d_opts else None
        stage, adversarial = self.stage(), self.adversarial()
        first = batch_idx % self.accumulate == 0
        last = (batch_idx + 1) % self.accumulate == 0 or (
            batch_idx + 1 == self.trainer.num_training_batches
        )
        if first:
            g_opt.zero_grad()
            if d_opt is not None:
                d_opt.zero_grad()

        aligned = self.align(batch)
        losses = {
            "align": forward_sum_loss(
                aligned["logits"], aligned["token_lengths"], aligned["frame_lengths"]
            )
        }
        if self.global_step >= self.schedule["bin_loss_start"]:
            hard = durations_to_path(aligned["durations"], aligned["log_attn"].shape[1])
            losses["bin"] = bin_loss(aligned["log_attn"], hard)
        fake = real = None
        if stage != "align":
            fake, real, style = self._decode_segments(batch, aligned)
            losses["mel"] = mel_loss(self.mel, fake, real)
            losses["stft"] = self.stft_loss(fake, real)
            if stage == "joint" and self.prosody_trains:
                losses.update(self.prosody_losses(batch, aligned, style))

        if not self._all_finite(sum(losses.values())):
            self._skip_step(losses, batch, g_opt, d_opt)
            return
        if adversarial and fake is not None:
            self.toggle_optimizer(d_opt)
            real_out = self.discriminator(real)
            fake_out = self.discriminator(fake.detach())
            loss_d = discriminator_loss([s for s, _ in real_out], [s for s, _ in fake_out])
            self.manual_backward(loss_d / self.accumulate)
            self.untoggle_optimizer(d_opt)
            losses["disc"] = loss_d.detach()
            if last:
                self._discriminator_update(d_opt)
                d_opt.zero_grad()
            self.toggle_optimizer(g_opt)
            fake_out = self.discriminator(fake)
            with torch.no_grad():
                real_maps = [m for _, m in self.discriminator(real)]
            losses["adv"] = generator_adversarial_loss([s for s, _ in fake_out])
            losses["fm"] = feature_matching_loss(real_maps, [m for _, m in fake_out])
            self.untoggle_optimizer(g_opt)

        total = sum(self.weights.get(k, 0.0) * v for k, v in losses.items() if k != "disc")
        if not self._all_finite(total):
            self._skip_step(losses, batch, g_opt, d_opt)
            return
        self._skipped = 0
        self.manual_backward(total / self.accumulate)
        if last:
            if self.clip:
                self.clip_gradients(
                    g_opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm"
                )
            g_opt.step()
            scheds[0].step()
            if adversarial and len(scheds) > 1:
                scheds[1].step()
        losses["total"] = total.detach()
        self._log_losses(losses, batch["tokens"].shape[0])

    def _all_finite(self, value: Tensor) -> bool:
        """True when the loss is finite on every process (so all of them skip, or none)."""
        flag = torch.isfinite(value.detach()).float().reshape(1)
        return bool(self.trainer.strategy.reduce(flag, reduce_op="mean") == 1)

    def _skip_step(self, losses: dict, batch: dict, g_opt, d_opt) -> None:
        """A non-finite loss: drop this batch's gradients instead of poisoning the weights; give
        up after MAX_SKIPPED batches in a row (the weights themselves have diverged)."""
        self._skipped = getattr(self, "_skipped", 0) + 1
        log.warning(
            "non-finite loss at step %d (%s): batch skipped",
            self.global_step,
            {k: float(v) for k, v in losses.items()},
        )
        if self._skipped > MAX_SKIPPED:
            raise RuntimeError(
                f"{self._skipped} batches in a row gave non-finite losses: training diverged; "
                "lower optim.lr (or its lr_scales), add optim.warmup_steps, or clip harder"
            )
        for opt in (g_opt, d_opt):
            if opt is not None:
                opt.zero_grad()
        losses["total"] = sum(losses.values()).detach()
        self._log_losses(losses, batch["tokens"].shape[0])

    def _decode_segments(self, batch, aligned) -> tuple[Tensor, Tensor, Tensor]:
        """Render one random L-frame segment per clip: -> fake, real audio (b, 600 L), style."""
        L_ = self.segment_frames
        spf = self.model.samples_per_frame
        index, _ = frame_to_token(aligned["durations"])
        t_en = self.model.text_encoder(batch["tokens"], batch["token_valid"])
        asr = expand_to_frames(t_en, index)  # (b, c, f)
        starts = self._offsets(batch["index"], aligned["frame_lengths"], L_, salt=0)
        mel_lengths = batch["mel_valid"].sum(-1)
        style_starts = self._offsets(batch["index"], mel_lengths, self.style_frames, salt=1)
        energy = energy_from_log_mel(batch["mel"])
        asr_seg = torch.stack([asr[i, :, s : s + L_] for i, s in enumerate(starts)])
        f0_seg = torch.stack([batch["f0"][i, 2 * s : 2 * (s + L_)] for i, s in enumerate(starts)])
        n_seg = torch.stack([energy[i, 2 * s : 2 * (s + L_)] for i, s in enumerate(starts)])
        real = torch.stack(
            [batch["audio"][i, spf * s : spf * (s + L_)] for i, s in enumerate(starts)]
        )
        crops = torch.stack(
            [batch["mel"][i, :, s : s + self.style_frames] for i, s in enumerate(style_starts)]
        )
        style = self.style(normalize_log_mel(crops))
        generators = [self._item_generator(i, salt=2) for i in batch["index"].tolist()]
        fake = self.model.decoder(
            asr_seg, f0_seg, n_seg, self.model.decoder_style(style), None, generators
        )
        return fake, real, style

    def _log_losses(self, losses: dict[str, Tensor], batch_size: int) -> None:
        names = sorted(losses)
        values = torch.stack([losses[k].detach().float() for k in names])
        values = self.trainer.strategy.reduce(values, reduce_op="mean")  # mean over ranks
        self.step_losses = dict(zip(names, values.tolist()))
        self.log_dict(
            {f"train/{k}": v for k, v in zip(names, values)},
            on_step=True,
            on_epoch=False,
            batch_size=batch_size,
        )

    # -- validation --------------------------------------------------------------------------

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        aligned = self.align(batch)
        b = batch["tokens"].shape[0]
        styles = torch.stack(
            [
                self.clip_style(batch["mel"][i, :, : int(batch["mel_valid"][i].sum())])
                for i in range(b)
            ]
        )
        tv = batch["token_valid"]
        index, frame_valid = frame_to_token(aligned["durations"])
        t_en = self.model.text_encoder(batch["tokens"], tv)
        asr = expand_to_frames(t_en, index)
        frames = asr.shape[-1]
        energy = energy_from_log_mel(batch["mel"])[:, : 2 * frames]
        generators = [self._item_generator(i, salt=3) for i in batch["index"].tolist()]
        audio = self.model.decoder(
            asr,
            batch["f0"][:, : 2 * frames],
            energy,
            self.model.decoder_style(styles),
            frame_valid,
            generators,
        )
        spf = self.model.samples_per_frame
        mel = torch.stack(
            [
                mel_loss(
                    self.mel, audio[i : i + 1, : spf * n], batch["audio"][i : i + 1, : spf * n]
                )
                for i, n in enumerate(aligned["frame_lengths"].tolist())
            ]
        ).mean()
        losses = {
            "mel": mel,
            "align": forward_sum_loss(
                aligned["logits"], aligned["token_lengths"], aligned["frame_lengths"]
            ),
        }
        losses.update(self.prosody_losses(batch, aligned, styles))
        self.log_dict(
            {f"val/{k}": v for k, v in losses.items()}, on_epoch=True, sync_dist=True, batch_size=b
        )
        self.log("val/loss", mel, on_epoch=True, sync_dist=True, batch_size=b, prog_bar=True)
        if batch_idx == 0 and not self.trainer.sanity_checking:
            self._log_media(batch, aligned, audio, styles)

    @rank_zero_only
    def _log_media(self, batch, aligned, audio, styles) -> None:
        """Audio (real, teacher-forced reconstruction, free synthesis) and mel/alignment plots
        for the first clips of the first validation batch, to every logger that takes them."""
        from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

        if not any(isinstance(lg, (WandbLogger, TensorBoardLogger)) for lg in self.loggers):
            return
        spf = self.model.samples_per_frame
        for i in range(min(self.val_samples, batch["tokens"].shape[0])):
            n = int(aligned["frame_lengths"][i]) * spf
            t = int(aligned["token_lengths"][i])
            with torch.no_grad():
                gen = self._item_generator(int(batch["index"][i]), salt=4)
                free = self.model(
                    batch["tokens"][i : i + 1, :t], styles[i : i + 1], generator=gen
                ).audio[0]
            log_validation_media(
                self.loggers,
                f"val/{batch['ids'][i]}",
                step=self.global_step,
                real=batch["audio"][i, :n],
                reconstructed=audio[i, :n],
                synthesized=free,
                mel_real=self.mel(batch["audio"][i : i + 1, :n])[0],
                mel_fake=self.mel(audio[i : i + 1, :n])[0],
                log_attn=aligned["log_attn"][i, : n // spf, :t],
                durations=aligned["durations"][i, :t],
                sample_rate=self.feature_settings.sample_rate,
            )


# -- media -----------------------------------------------------------------------------------


def _figure_to_image(fig) -> np.ndarray:
    """A matplotlib Figure -> RGB array (h, w, 3), drawn on its own Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_mels(real: Tensor, fake: Tensor):
    """Log-mels (m, F) of the real and the reconstructed clip, stacked."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend

    fig = Figure(figsize=(8, 5))
    axes = fig.subplots(2, 1, sharex=True)
    for ax, mel, title in ((axes[0], real, "real"), (axes[1], fake, "reconstructed")):
        ax.imshow(mel.float().cpu().numpy(), origin="lower", aspect="auto", interpolation="none")
        ax.set_title(title)
    axes[1].set_xlabel("mel frame (12.5 ms)")
    fig.tight_layout()
    return fig


def plot_alignment(log_attn: Tensor, durations: Tensor):
    """Soft alignment (f, t) as an image with the MAS path drawn over it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.imshow(
        log_attn.float().exp().cpu().numpy().T, origin="lower", aspect="auto", interpolation="none"
    )
    ends = torch.cumsum(durations.cpu(), 0).numpy()
    ax.step(ends - 0.5, np.arange(len(ends)), where="post", color="w", linewidth=0.8)
    ax.set_xlabel("frame (25 ms)")
    ax.set_ylabel("token")
    fig.tight_layout()
    return fig


def log_validation_media(
    loggers,
    key: str,
    step: int,
    sample_rate: int,
    real: Tensor,
    reconstructed: Tensor,
    synthesized: Tensor,
    mel_real: Tensor,
    mel_fake: Tensor,
    log_attn: Tensor,
    durations: Tensor,
) -> None:
    """Audio and plots to W&B (`log_audio` / `log_image`) and TensorBoard (`add_audio` /
    `add_image`); other loggers (CSV) take no media and are skipped."""
    from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

    audios = {"real": real, "reconstructed": reconstructed, "synthesized": synthesized}
    audios = {k: v.detach().float().cpu().clamp(-1, 1).numpy() for k, v in audios.items()}
    images = {
        "mel": _figure_to_image(plot_mels(mel_real, mel_fake)),
        "alignment": _figure_to_image(plot_alignment(log_attn, durations)),
    }
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_audio(
                f"{key}/audio",
                list(audios.values()),
                step=step,
                caption=list(audios),
                sample_rate=[sample_rate] * len(audios),
            )
            logger.log_image(f"{key}/plots", list(images.values()), step=step, caption=list(images))
        elif isinstance(logger, TensorBoardLogger):
            for name, audio in audios.items():
                logger.experiment.add_audio(f"{key}/{name}", audio[None], step, sample_rate)
            for name, image in images.items():
                logger.experiment.add_image(f"{key}/{name}", image, step, dataformats="HWC")


# -- after training ------------------------------------------------------------------------


@torch.no_grad()
def extract_voicepacks(
    module: KokoroTraining,
    dataset,
    rows: int = 510,
    bandwidth: float | None = None,
) -> dict[str, Tensor]:
    """Speaker -> voicepack (rows, 1, 2s) from the style encoders over that speaker's clips.

    Row r serves utterances of r + 1 phonemes (the v1.0 convention): a Gaussian-kernel average,
    over the clips, of their styles weighted by how close each clip's phoneme count is to r + 1
    (bandwidth: the spread of the counts, at least 10). With few clips this is nearly their
    mean; with many it follows how a speaker's style changes with utterance length, which is
    what the official packs encode.
    """
    was_training = module.training
    module.eval()
    by_speaker: dict[int, list[tuple[int, Tensor]]] = {}
    for i in range(len(dataset)):
        item = dataset[i]
        style = module.clip_style(item["mel"].to(module.device)).float().cpu()
        by_speaker.setdefault(item["speaker"], []).append((len(item["tokens"]) - 2, style))
    names = {v: k for k, v in dataset.speaker_index.items()}
    packs = {}
    for speaker, clips in by_speaker.items():
        counts = torch.tensor([c for c, _ in clips], dtype=torch.float32)
        styles = torch.stack([s for _, s in clips])
        bw = bandwidth or max(10.0, float(counts.std()) if len(clips) > 1 else 10.0)
        lengths = torch.arange(1, rows + 1, dtype=torch.float32)
        w = torch.exp(-0.5 * ((lengths[:, None] - counts[None, :]) / bw) ** 2)
        w = w / w.sum(-1, keepdim=True).clamp(min=1e-12)
        w = torch.where(
            torch.isfinite(w) & (w.sum(-1, keepdim=True) > 0), w, torch.full_like(w, 1 / len(clips))
        )
        packs[names[speaker]] = rearrange(w @ styles, "r s -> r 1 s").contiguous()
    module.train(was_training)
    return packs


def save_voicepacks(packs: dict[str, Tensor], directory: Path) -> dict[str, str]:
    """Write `directory/SPEAKER.pt` (the official format: a plain float32 tensor)."""
    from kokoro_lab.io import atomic_write
    from kokoro_lab.voices import STYLE_DIM, VoicePack

    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, pack in packs.items():
        path = directory / f"{name}.pt"
        if pack.shape[-1] == STYLE_DIM:
            VoicePack(pack, name).save(path)
        else:  # a tiny-config pack: same format, but VoicePack checks the official width
            atomic_write(path, lambda tmp, p=pack: torch.save(p.float().clone(), tmp))
        paths[name] = str(path)
    return paths


def export_official(model: KokoroModel, path: Path) -> Path:
    """The trained weights in the official v1.0 layout, checked by a strict reload."""
    from kokoro_lab.checkpoint import load_into, read_checkpoint, save_checkpoint

    save_checkpoint(model, path)
    load_into(KokoroModel(model.config), read_checkpoint(path))
    return path


# -- callbacks -----------------------------------------------------------------------------


class LossHistory(Callback):
    """Appends every training batch's losses (mean over ranks), clip ids and wall-clock time
    (Unix seconds) to `history.jsonl` (rank zero); a resumed run keeps appending, so the file
    is the whole curve."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @rank_zero_only
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        import json

        record = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "batch": batch_idx,
            "ids": list(batch["ids"]),
            "stage": pl_module.stage(max(trainer.global_step - 1, 0)),
            "losses": pl_module.step_losses,
            "time": time.time(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def read_history(path: str | Path) -> list[dict]:
    """history.jsonl -> records; where a resumed run repeated steps, the later record wins."""
    import json

    records: dict[tuple[int, int], dict] = {}
    path = Path(path)
    if not path.is_file():
        return []
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            records[(r["epoch"], r["batch"])] = r
    return sorted(records.values(), key=lambda r: (r["epoch"], r["batch"]))


def loss_summary(records: list[dict]) -> dict[str, dict[str, float]]:
    """{name: {first, last, final}} over the records in which each loss appears.

    `first` is the first step's value (the untrained model); `last` the mean over the final
    epoch's worth of steps (every clip once, so one random crop of silence or of speech does
    not decide it); `final` the last step's value alone.
    """
    per_epoch: dict[int, int] = {}
    for r in records:
        per_epoch[r["epoch"]] = per_epoch.get(r["epoch"], 0) + 1
    window = max(per_epoch.values(), default=1)
    series: dict[str, list[float]] = {}
    for r in records:
        for name, value in r["losses"].items():
            series.setdefault(name, []).append(value)
    return {
        name: {"first": v[0], "last": float(np.mean(v[-window:])), "final": v[-1]}
        for name, v in series.items()
    }


class SpeakerEval(Callback):
    """Before and after fitting (rank zero): synthesize held-out texts with the voicepack the
    style encoders extract from the training clips, and score them with the evaluation metrics:
    Whisper WER against the texts and Resemblyzer similarity to reference clips of the speaker.
    Results land in `pl_module.speaker_eval` ({"before": ..., "after": ...})."""

    def __init__(
        self,
        reference_dir: str | Path,
        texts: Sequence[str] | None = None,
        harvard_start: int = 300,
        harvard_count: int = 10,
        lang: str = "en-us",
        beam_size: int = 5,
    ):
        from kokoro_lab.data.eval_sets import harvard_sentences

        self.reference_dir = Path(reference_dir)
        self.texts = list(texts) if texts else harvard_sentences(harvard_count, harvard_start)
        self.lang = lang
        self.beam_size = beam_size

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            pl_module.speaker_eval = {"before": self.evaluate(trainer, pl_module)}

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            results = getattr(pl_module, "speaker_eval", {})
            results["after"] = self.evaluate(trainer, pl_module)
            pl_module.speaker_eval = results

    @torch.no_grad()
    def evaluate(self, trainer, pl_module: KokoroTraining) -> dict:
        from kokoro_lab.data.dataset import load_audio
        from kokoro_lab.metrics import SpeakerSimilarity, WhisperASR
        from kokoro_lab.pipeline import Pipeline
        from kokoro_lab.voices import VoicePack

        dm = trainer.datamodule
        if dm.train_set is None:
            dm.setup("fit")
        packs = extract_voicepacks(pl_module, dm.train_set)
        name, pack = next(iter(packs.items()))
        was_training = pl_module.training
        pl_module.eval()
        pipe = Pipeline(  # the espeak front end the training data was phonemized with
            pl_module.model, VoicePack(pack, name), lang=self.lang, seed=0, g2p="espeak"
        )
        rate = pl_module.feature_settings.sample_rate
        audios = [pipe(text=t).audio.float().cpu().numpy() for t in self.texts]
        pl_module.train(was_training)
        refs = [load_audio(p, rate) for p in sorted((self.reference_dir / "wavs").glob("*.wav"))]
        if not refs:
            raise UserFileError(f"no reference clips in {self.reference_dir / 'wavs'}")
        # Whisper on torch's thread count (WhisperASR leaves that count as it found it)
        asr = WhisperASR(beam_size=self.beam_size, threads=torch.get_num_threads())
        errors = asr.error_counts(audios, rate, self.texts)
        sims = SpeakerSimilarity().similarity_to_set(audios, refs, rate)
        result = {"wer": float(errors.rate), "speaker_similarity": float(np.mean(sims))}
        log.info("speaker eval (%s): %s", name, result)
        return result
