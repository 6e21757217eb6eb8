"""StyleTTS 2-style training of Kokoro as a LightningModule with manual GAN optimization.

Axes: b batch, t tokens, f alignment frames (600 samples), F mel frames (300 samples, F = 2f),
L segment frames, n samples, m mel bins, s style (one half of a voicepack row).

One training step, per batch:
  aligner(tokens, mel) -> soft alignment -> forward-sum loss; MAS -> durations (b, t)
    (optionally guided by a prior band around reference durations: schemas/train.py Alignment)
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
from collections.abc import Sequence
from functools import partial

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn

from kokoro_lab.audio.features import (
    FeatureSettings,
    LogMelSpectrogram,
    energy_from_log_mel,
    normalize_log_mel,
)
from kokoro_lab.checkpoint import COMPONENTS as MODEL_COMPONENTS
from kokoro_lab.errors import UserValueError
from kokoro_lab.lightning.lr_schedule import warmup_cosine
from kokoro_lab.lightning.media import log_validation_media
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
from kokoro_lab.modules.discriminators import Discriminators
from kokoro_lab.modules.length_regulator import expand_to_frames, frame_to_token
from kokoro_lab.modules.style_encoder import MIN_FRAMES as STYLE_MIN_FRAMES
from kokoro_lab.modules.style_encoder import StyleEncoder
from kokoro_lab.schemas.train import Alignment, LossWeights, Optim, Schedule
from kokoro_lab.schemas.validate import known_dict

log = logging.getLogger(__name__)

#: Kokoro's own components (the official checkpoint's), then the training-only ones (StyleTTS 2).
COMPONENTS = (*MODEL_COMPONENTS, "style_encoder", "predictor_encoder", "aligner")
#: What the duration, F0 and energy losses reach: with all of it frozen the joint stage skips them.
PROSODY_COMPONENTS = ("bert", "bert_encoder", "predictor", "predictor_encoder")
#: Non-finite batches in a row before training gives up.
MAX_SKIPPED = 10


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
        # The defaults are the config schema's (kokoro_lab/schemas/train.py), the one source;
        # a key they do not define is a UserValueError naming it.
        self.weights = known_dict(LossWeights, loss_weights, "loss_weights")
        self.schedule = known_dict(Schedule, schedule, "schedule")
        self.optim = known_dict(Optim, optim, "optim")
        self.alignment = known_dict(Alignment, alignment, "alignment")
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
        """AdamW for the generator side (one parameter group per lr_scales multiplier) and for
        the discriminators, each under the warm-up + cosine schedule."""
        o = self.optim
        g_opt = torch.optim.AdamW(
            [{"params": ps, "lr": o["lr"] * s} for s, ps in self._scaled_parameters().items()],
            betas=tuple(o["betas"]),
            eps=o["eps"],
            weight_decay=o["weight_decay"],
        )
        schedule = partial(
            warmup_cosine,
            warmup_steps=o["warmup_steps"],
            decay_steps=o["decay_steps"],
            min_lr_ratio=o["min_lr_ratio"],
        )
        schedulers = [schedule(g_opt)]
        if self.discriminator is None:
            return [g_opt], schedulers
        d_opt = torch.optim.AdamW(
            self.discriminator.parameters(),
            lr=o["discriminator_lr"] or o["lr"],
            betas=tuple(o["betas"]),
            eps=o["eps"],
            weight_decay=o["weight_decay"],
        )
        schedulers.append(schedule(d_opt))
        return [g_opt, d_opt], schedulers

    def _scaled_parameters(self) -> dict[float, list[nn.Parameter]]:
        """Trainable parameters by learning-rate multiplier: `optim.lr_scales` maps component
        names or parameter prefixes to multipliers, the longest match winning (default 1)."""
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
        return groups

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
        """Generator losses -> (adversarial stage) discriminator update and adversarial losses
        -> weighted total -> backward and, at the end of an accumulation window, the update.
        A non-finite loss on any process skips the batch (see `_skip_step`)."""
        torch.manual_seed(_mix(self.seed, self.current_epoch, batch_idx, self.global_rank))
        (g_opt, *d_opts), scheds = self._optimizers()
        d_opt = d_opts[0] if d_opts else None
        adversarial = self.adversarial()
        first, last = self._accumulation_window(batch_idx)
        if first:
            g_opt.zero_grad()
            if d_opt is not None:
                d_opt.zero_grad()

        losses, fake, real = self.generator_losses(batch)
        if not self._all_finite(sum(losses.values())):
            self._skip_step(losses, batch, g_opt, d_opt)
            return
        if adversarial and fake is not None:
            losses.update(self._adversarial_losses(fake, real, g_opt, d_opt, last))

        total = sum(self.weights.get(k, 0.0) * v for k, v in losses.items() if k != "disc")
        if not self._all_finite(total):
            self._skip_step(losses, batch, g_opt, d_opt)
            return
        self._skipped = 0
        self.manual_backward(total / self.accumulate)
        if last:
            self._generator_update(g_opt, scheds, adversarial)
        losses["total"] = total.detach()
        self._log_losses(losses, batch["tokens"].shape[0])

    def _accumulation_window(self, batch_idx: int) -> tuple[bool, bool]:
        """(first, last): whether this batch opens / closes a gradient-accumulation window."""
        first = batch_idx % self.accumulate == 0
        last = (batch_idx + 1) % self.accumulate == 0 or (
            batch_idx + 1 == self.trainer.num_training_batches
        )
        return first, last

    def generator_losses(
        self, batch: dict
    ) -> tuple[dict[str, Tensor], Tensor | None, Tensor | None]:
        """The unweighted non-adversarial losses of the current stage, and the decoded and real
        segments fake, real (b, 600 L) (None in the aligner warm-up)."""
        stage = self.stage()
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
        return losses, fake, real

    def _adversarial_losses(self, fake, real, g_opt, d_opt, last: bool) -> dict[str, Tensor]:
        """LSGAN: the discriminator's loss on real vs detached fake segments (backward, and its
        own update at the end of the window), then the generator's adversarial and
        feature-matching losses against the discriminator as it now is."""
        self.toggle_optimizer(d_opt)
        real_out = self.discriminator(real)
        fake_out = self.discriminator(fake.detach())
        loss_d = discriminator_loss([s for s, _ in real_out], [s for s, _ in fake_out])
        self.manual_backward(loss_d / self.accumulate)
        self.untoggle_optimizer(d_opt)
        if last:
            self._discriminator_update(d_opt)
            d_opt.zero_grad()
        self.toggle_optimizer(g_opt)
        fake_out = self.discriminator(fake)
        with torch.no_grad():
            real_maps = [m for _, m in self.discriminator(real)]
        losses = {
            "disc": loss_d.detach(),
            "adv": generator_adversarial_loss([s for s, _ in fake_out]),
            "fm": feature_matching_loss(real_maps, [m for _, m in fake_out]),
        }
        self.untoggle_optimizer(g_opt)
        return losses

    def _generator_update(self, g_opt, scheds, adversarial: bool) -> None:
        """Clip, step the generator (this advances global_step) and the learning-rate schedules
        (the discriminator's only while it trains)."""
        if self.clip:
            self.clip_gradients(g_opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        g_opt.step()
        scheds[0].step()
        if adversarial and len(scheds) > 1:
            scheds[1].step()

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
        """Whole clips, teacher-forced (MAS durations, real F0 and N, each clip's own style):
        mel, alignment and prosody losses under val/, media for the first batch."""
        aligned = self.align(batch)
        b = batch["tokens"].shape[0]
        styles = torch.stack(
            [
                self.clip_style(batch["mel"][i, :, : int(batch["mel_valid"][i].sum())])
                for i in range(b)
            ]
        )
        audio = self._reconstruct(batch, aligned, styles)
        losses = {
            "mel": self._clip_mel_loss(audio, batch["audio"], aligned["frame_lengths"]),
            "align": forward_sum_loss(
                aligned["logits"], aligned["token_lengths"], aligned["frame_lengths"]
            ),
        }
        losses.update(self.prosody_losses(batch, aligned, styles))
        self.log_dict(
            {f"val/{k}": v for k, v in losses.items()}, on_epoch=True, sync_dist=True, batch_size=b
        )
        self.log(
            "val/loss", losses["mel"], on_epoch=True, sync_dist=True, batch_size=b, prog_bar=True
        )
        if batch_idx == 0 and not self.trainer.sanity_checking:
            self._log_media(batch, aligned, audio, styles)

    def _reconstruct(self, batch: dict, aligned: dict, styles: Tensor) -> Tensor:
        """The decoder on whole clips: text features expanded by the durations, the real F0
        and N, the acoustic half of styles (b, 2s) -> audio (b, 600 f)."""
        index, frame_valid = frame_to_token(aligned["durations"])
        t_en = self.model.text_encoder(batch["tokens"], batch["token_valid"])
        asr = expand_to_frames(t_en, index)
        frames = asr.shape[-1]
        energy = energy_from_log_mel(batch["mel"])[:, : 2 * frames]
        generators = [self._item_generator(i, salt=3) for i in batch["index"].tolist()]
        return self.model.decoder(
            asr,
            batch["f0"][:, : 2 * frames],
            energy,
            self.model.decoder_style(styles),
            frame_valid,
            generators,
        )

    def _clip_mel_loss(self, fake: Tensor, real: Tensor, frame_lengths: Tensor) -> Tensor:
        """Mean over clips of the mel loss on each clip's valid samples: fake, real (b, n)."""
        spf = self.model.samples_per_frame
        return torch.stack(
            [
                mel_loss(self.mel, fake[i : i + 1, : spf * n], real[i : i + 1, : spf * n])
                for i, n in enumerate(frame_lengths.tolist())
            ]
        ).mean()

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
