"""Fitting a voicepack for the frozen Kokoro model: only the style table's offset is trained.

Axes: b batch (1), t tokens (with the two boundary pads), f duration frames (600 samples),
F = 2f F0 / energy / mel frames, n samples, k anchors, s style (256 = decoder half + prosody half).

Every weight of the network is frozen (requires_grad False, eval mode: no dropout); the trainable
parameters are the offsets (k, s) of the two halves, the voice being `init table + offset(row)`
(kokoro_lab/voice_fitting/table.py). Each step:

- prosody half, on a few clips (the predictor is cheap): the frozen predictor, given each clip's
  durations (kokoro_lab/voice_fitting/durations.py),
  against those durations (StyleTTS 2 bin BCE + L1), the recording's pyin F0 on voiced frames
  and its energy (smooth L1, StyleTTS 2 `loss_F0_rec` / `loss_norm_rec`);
- decoder half, on one clip (whole by default: AdaIN normalizes over time, so a crop decoded
  alone is biased): the frozen decoder, driven by the recording's own F0 and energy (teacher
  forcing, as StyleTTS 2 trains its decoder, so a wrong prosody style early on does not push the
  timbre to compensate), against the recording: log-mel L1 and the L1 of the time-averaged
  log-mel (the long-term spectrum: timbre); the multi-resolution STFT loss is computed but
  weighted 0 by default (driven by pyin F0, its fine harmonic structure prefers a wrong style to
  the true one: docs/finetune_voice.md);
- both: a Gaussian prior over real voicepack rows (kokoro_lab/voice_fitting/prior.py) at the
  anchors, and with several anchors a penalty on their spread.

The frozen network lives outside the module tree (`self.net`), so checkpoints hold the offsets,
the optimizer state and the durations: under a megabyte, not the 330 MB of weights.
"""

from __future__ import annotations

import logging
import math

import lightning as L
import numpy as np
import torch
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.audio.features import LogMelSpectrogram
from kokoro_lab.config import SAMPLE_RATE, SAMPLES_PER_FRAME
from kokoro_lab.losses import MultiResolutionSTFTLoss, duration_losses, energy_loss, f0_loss
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.length_regulator import expand_to_frames, frame_to_token
from kokoro_lab.schemas.finetune_voice import FitWeights
from kokoro_lab.schemas.validate import known_dict
from kokoro_lab.voice_fitting.data import Clip
from kokoro_lab.voice_fitting.durations import align, dtw_align
from kokoro_lab.voice_fitting.prior import StylePrior
from kokoro_lab.voice_fitting.table import build_table, row_styles

log = logging.getLogger(__name__)


def half_cosine(step: int, total: int) -> float:
    """The learning-rate factor at `step` of `total`: a half cosine from 1 down to 5%."""
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


class VoicepackFit(L.LightningModule):
    """Fits `offsets` (k, s) so the frozen `net` with `init + offset` speaks like `clips`."""

    def __init__(
        self,
        net: KokoroModel,
        clips: list[Clip],
        init_pack: Tensor,
        prior: StylePrior,
        anchors: list[int],
        lr: float = 0.03,
        prosody_lr: float = 0.1,
        weights: dict[str, float] | None = None,
        realign_at: tuple[int, ...] = (),
        align_method: str = "dtw",
        speaker=None,
        seed: int = 0,
        train_clips: int | None = None,
    ):
        """`train_clips`: only the first that many clips are fitted (default: all); the rest are
        held out, seen only by validation."""
        super().__init__()
        self.save_hyperparameters(ignore=["net", "clips", "init_pack", "prior", "speaker"])
        self.net = _Frozen(net)
        self.clips = clips
        self.train_clips = len(clips) if train_clips is None else train_clips
        self.anchors = list(anchors)
        # the schema's defaults (kokoro_lab/schemas/finetune_voice.py), one source for both the
        # script and Python callers; an unknown weight is a user error naming it
        self.weights = known_dict(FitWeights, weights, "weights")
        self.speaker = speaker
        self.register_buffer("init_pack", init_pack.float().clone())
        self.prior = prior
        half = init_pack.shape[-1] // 2
        self.decoder_offsets = nn.Parameter(torch.zeros(len(anchors), half))
        self.prosody_offsets = nn.Parameter(torch.zeros(len(anchors), half))
        self.stft = MultiResolutionSTFTLoss()
        self.mel = LogMelSpectrogram()
        self._features: list[tuple[Tensor, Tensor]] | None = None
        self.history: list[dict[str, float]] = []

    # -- the style ---------------------------------------------------------------------------

    @property
    def offsets(self) -> Tensor:
        """(k, s): the decoder half's offsets then the prosody half's."""
        return torch.cat([self.decoder_offsets, self.prosody_offsets], dim=-1)

    @property
    def model(self) -> KokoroModel:
        return self.net.module

    def style(self, clip: Clip) -> Tensor:
        """The fitted style row (1, s) for a clip of its phoneme count."""
        rows = torch.tensor([clip.num_phonemes - 1])
        return row_styles(self.init_pack.cpu(), self.offsets.cpu(), self.anchors, rows).to(
            self.offsets.device
        )

    def table(self) -> Tensor:
        """The full voicepack (510, 1, s), float32 on the CPU."""
        return build_table(self.init_pack.cpu(), self.offsets, self.anchors)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # frozen: dropout stays off
        return self

    # -- cached style-independent features ----------------------------------------------------

    @torch.no_grad()
    def features(self, i: int) -> tuple[Tensor, Tensor]:
        """Clip i -> (bert encoder features (1, c, t), text encoder output (1, c, t)): they do not
        depend on the style, so they are computed once."""
        if self._features is None:
            self._features = [None] * len(self.clips)
        if self._features[i] is None:
            tokens = self.clips[i].tokens[None].to(self.device)
            d_en = rearrange(self.model.bert_encoder(self.model.bert(tokens)), "b t c -> b c t")
            self._features[i] = (d_en, self.model.text_encoder(tokens, None))
        return self._features[i]

    # -- losses ------------------------------------------------------------------------------

    def prosody(self, i: int, style: Tensor):
        """Clip i with style (1, s) -> duration logits (1, t, j), F0 and energy (1, 2f)."""
        clip = self.clips[i]
        s = self.model.prosody_style(style)
        d_en, _ = self.features(i)
        d = self.model.predictor.text_encoder(d_en, s, None)
        logits = self.model.predictor.duration_logits(d, None)
        index, _ = frame_to_token(clip.durations[None].to(self.device))
        en = expand_to_frames(rearrange(d, "b t c -> b c t"), index)
        f0, energy = self.model.predictor.f0_energy(en, s, None)
        return logits, f0, energy, index

    def prosody_losses(self, i: int) -> dict[str, Tensor]:
        """Clip i's prosody half against its durations, voiced pyin F0 and energy."""
        clip = self.clips[i]
        logits, f0, energy, _ = self.prosody(i, self.style(clip))
        durations = clip.durations[None].to(self.device)
        dur_l1, dur_ce = duration_losses(logits, durations, torch.ones_like(durations).bool())
        f0_target = clip.f0[None].to(self.device)
        voiced = f0_target > 0
        return {
            "duration_l1": dur_l1,
            "duration_ce": dur_ce,
            "f0": f0_loss(f0, f0_target, voiced),
            "energy": energy_loss(
                energy, clip.energy[None].to(self.device), torch.ones_like(voiced)
            ),
        }

    def fit_prosody(self, steps: int, clips_per_step: int, lr: float, seed: int) -> list[dict]:
        """Fit the prosody half alone before the joint steps: `steps` Adam steps, each on the
        prosody losses (and the prior) of `clips_per_step` random clips, the rate on the same
        half-cosine decay to 5%. The halves are independent here (the decoder is teacher-forced
        with the recording's F0, energy and durations), and predictor steps are cheap (~0.25 s a
        clip against ~10 s for one decoded clip), so the prosody half gets the many small steps
        it needs while the decoder half keeps the expensive ones: with only the joint steps it
        was under-fitted and its durations drifted (a fitted voice 8% faster than its target,
        docs/finetune_voice.md). Returns the per-step weighted losses."""
        opt = torch.optim.Adam([self.prosody_offsets], lr=lr)
        g = torch.Generator().manual_seed(seed)
        history = []
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr * half_cosine(step, steps)
            picks = torch.randint(self.train_clips, (clips_per_step,), generator=g).tolist()
            parts = [self.prosody_losses(j) for j in picks]
            losses = {k: sum(p[k] for p in parts) / len(parts) for k in parts[0]}
            losses["prior"] = self.prior.penalty(self.anchor_styles())
            total = sum(self.weights[k] * v for k, v in losses.items())
            opt.zero_grad()
            total.backward()
            opt.step()
            history.append({k: float(v) for k, v in {**losses, "total": total}.items()})
        self.prosody_offsets.grad = None
        return history

    def anchor_styles(self) -> Tensor:
        """(k, s): the fitted styles at the anchor rows."""
        return row_styles(
            self.init_pack.cpu(), self.offsets.cpu(), self.anchors, torch.tensor(self.anchors)
        ).to(self.offsets.device)

    def losses(
        self, i: int, start: int, frames: int, prosody_clips: list[int] | None = None
    ) -> dict[str, Tensor]:
        """All weighted losses of one step: the prosody losses averaged over clip i and
        `prosody_clips` (cheap, so several clips lower the noise), the decoder losses on frames
        start..start+frames of clip i, the prior and the spread; "total" is their weighted sum."""
        clip = self.clips[i]
        style = self.style(clip)
        parts = [self.prosody_losses(j) for j in [i, *(prosody_clips or [])]]
        out = {k: sum(p[k] for p in parts) / len(parts) for k in parts[0]}
        index, _ = frame_to_token(clip.durations[None].to(self.device))
        if any(self.weights[k] for k in ("stft", "mel", "mel_mean")):  # else prosody-only
            out.update(self.decoder_losses(i, style, index, start, frames))
        out["prior"] = self.prior.penalty(self.anchor_styles())
        out["spread"] = (
            self.offsets.var(0).mean() if len(self.anchors) > 1 else self.offsets.new_zeros(())
        )
        out["total"] = sum(self.weights[k] * v for k, v in out.items())
        return out

    def decoder_losses(
        self, i: int, style: Tensor, index: Tensor, start: int, frames: int
    ) -> dict[str, Tensor]:
        """The decoder half on frames start..start+frames of clip i, driven by the recording's
        own F0 and energy, against the recording: multi-resolution STFT and log-mel L1."""
        clip = self.clips[i]
        _, t_en = self.features(i)
        a, n = start, frames
        asr = expand_to_frames(t_en, index)[:, :, a : a + n]
        g = torch.Generator(self.device).manual_seed(self.hparams.seed + int(self.global_step))
        f0 = clip.f0[None, 2 * a : 2 * (a + n)].to(self.device)
        energy = clip.energy[None, 2 * a : 2 * (a + n)].to(self.device)
        audio = self.model.decoder(asr, f0, energy, self.model.decoder_style(style), None, g)
        real = clip.audio[None, SAMPLES_PER_FRAME * a : SAMPLES_PER_FRAME * (a + n)].to(self.device)
        fake_mel, real_mel = self.mel(audio), self.mel(real)
        return {
            "stft": self.stft(audio, real),
            "mel": (fake_mel - real_mel).abs().mean(),
            # the long-term average spectrum: timbre, insensitive to small misalignments
            "mel_mean": (fake_mel.mean(-1) - real_mel.mean(-1)).abs().mean(),
        }

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        if int(self.global_step) in self.hparams.realign_at:
            self.realign()
        extra = [int(j) for j in batch["prosody_clips"]]
        losses = self.losses(int(batch["clip"]), int(batch["start"]), int(batch["frames"]), extra)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, batch_size=1)
        self.log("loss", losses["total"], prog_bar=True, logger=False, batch_size=1)
        self.history.append({k: float(v) for k, v in losses.items()})
        return losses["total"]

    def configure_optimizers(self):
        """Adam on the offsets, the rate decaying on a half cosine to 5% by the last step: one
        clip per step makes the gradients noisy, and a constant rate would leave the style
        wandering in the directions the data barely constrains. The prosody half gets its own,
        higher rate: predictor losses are cheap and well conditioned, and at the decoder's rate
        the F0 level of a distant voice was still 60 Hz off after 150 steps (docs)."""
        opt = torch.optim.Adam(
            [
                {"params": [self.decoder_offsets], "lr": self.hparams.lr},
                {"params": [self.prosody_offsets], "lr": self.hparams.prosody_lr},
            ]
        )
        total = max(1, int(self.trainer.max_steps)) if self._trainer is not None else 1

        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: half_cosine(step, total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    # -- alignment ---------------------------------------------------------------------------

    @torch.no_grad()
    def realign(self) -> None:
        """Durations of every clip from the predictor with the current prosody style."""
        for clip in self.clips:
            tokens, style = clip.tokens.to(self.device), self.style(clip)
            if self.hparams.align_method == "dtw":
                durations = dtw_align(
                    self.model, tokens, style, clip.audio.to(self.device), self.mel
                )
            else:
                durations = align(self.model, tokens, style, clip.frames)
            clip.durations = durations.cpu()
        log.info("re-aligned %d clips with the fitted prosody style", len(self.clips))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["durations"] = [c.durations.tolist() for c in self.clips]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        for clip, d in zip(self.clips, checkpoint.get("durations", [])):
            clip.durations = torch.tensor(d)

    # -- validation: render, score, plot -----------------------------------------------------

    @torch.no_grad()
    def render(self, clip: Clip) -> Tensor:
        """Synthesize the clip's phonemes with the fitted style (predicted prosody) -> (n,)."""
        tokens = clip.tokens[None].to(self.device)
        g = torch.Generator(self.device).manual_seed(0)
        return self.model(tokens, self.style(clip), generator=g).audio[0].cpu()

    def validation_step(self, index: Tensor, batch_idx: int) -> None:
        clip = self.clips[int(index)]
        audio = self.render(clip)
        with torch.no_grad():
            _, f0, _, _ = self.prosody(int(index), self.style(clip))
            losses = self.losses(int(index), 0, min(clip.frames, 80))
        metrics = {f"val/{k}": float(v) for k, v in losses.items()}
        if self.speaker is not None:
            refs = [c.audio.numpy() for c in self.clips[:8]]
            sim = self.speaker.similarity_to_set([audio.numpy()], refs, SAMPLE_RATE)
            metrics["val/speaker_sim"] = float(sim.mean())
        self.log_dict(metrics, batch_size=1)
        log.info("step %d: %s", int(self.global_step), {k: round(v, 4) for k, v in metrics.items()})
        if batch_idx == 0:
            self._log_media(clip, audio, f0[0].cpu())

    def _log_media(self, clip: Clip, audio: Tensor, f0: Tensor) -> None:
        from lightning.pytorch.loggers import WandbLogger

        from kokoro_lab.lightning.media import figure_to_image, plot_mels

        loggers = [lg for lg in self.loggers if isinstance(lg, WandbLogger)]
        if not loggers:
            return
        with torch.no_grad():
            mels = self.mel(torch.stack([_fit(clip.audio, audio.shape[-1]), audio]))
        images = {
            "mel": figure_to_image(plot_mels(mels[0], mels[1])),
            "f0": figure_to_image(plot_f0(clip.f0, f0, clip.durations)),
        }
        step = int(self.global_step)
        for lg in loggers:
            lg.log_audio(
                "val/audio",
                [clip.audio.numpy(), audio.clamp(-1, 1).numpy()],
                step=step,
                caption=["recording", "fitted voice"],
                sample_rate=[SAMPLE_RATE, SAMPLE_RATE],
            )
            lg.log_image("val/plots", list(images.values()), step=step, caption=list(images))


class _Frozen:
    """Holds the frozen network outside the LightningModule's module tree (not checkpointed)."""

    def __init__(self, module: nn.Module):
        for p in module.parameters():
            p.requires_grad_(False)
        self.module = module.eval()


def _fit(x: Tensor, n: int) -> Tensor:
    """x (m,) cut or zero-padded to (n,)."""
    return x[:n] if x.shape[-1] >= n else torch.nn.functional.pad(x, (0, n - x.shape[-1]))


def plot_f0(target: Tensor, fitted: Tensor, durations: Tensor):
    """The recording's pyin F0 and the fitted prosody style's (2f,), token boundaries dotted."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend

    fig = Figure(figsize=(8, 3))
    ax = fig.subplots()
    t = np.where(target.numpy() > 0, target.numpy(), np.nan)
    ax.plot(t, label="recording (pyin)", color="k", linewidth=1)
    ax.plot(fitted.numpy(), label="fitted prosody style", color="tab:orange", linewidth=1)
    for end in (2 * torch.cumsum(durations, 0)).tolist():
        ax.axvline(end, color="0.8", linewidth=0.5, linestyle=":")
    ax.set_xlabel("frame (12.5 ms)")
    ax.set_ylabel("F0 (Hz)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return fig
