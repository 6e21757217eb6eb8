"""Training losses, each named after its source. Axes: b batch, t tokens, f frames, n samples,
k frequency bins, m mel bins, j duration bins (max_dur).

Masked losses average over each item's valid positions first and then over items, so a batch
split across processes (each averaging its share) gives the mean a single process would.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kokoro_lab.audio.features import LogMelSpectrogram


def _masked_item_mean(x: Tensor, valid: Tensor) -> Tensor:
    """x (b, ...) with valid (b, ...) -> mean over items of each item's valid mean."""
    v = valid.to(x.dtype)
    dims = tuple(range(1, x.dim()))
    return ((x * v).sum(dims) / v.sum(dims).clamp(min=1)).mean()


def mel_loss(mel: LogMelSpectrogram, fake: Tensor, real: Tensor) -> Tensor:
    """audio (b, n), (b, n) -> L1 between log-mel spectrograms (HiFi-GAN, Kong et al. 2020,
    with StyleTTS 2's 80-bin 2048/1200/300 settings): the mel reconstruction loss `mel`."""
    return F.l1_loss(mel(fake), mel(real))


class MultiResolutionSTFTLoss(nn.Module):
    """Log-magnitude L1 averaged over three STFT resolutions (the multi-resolution STFT loss of
    Parallel WaveGAN, Yamamoto et al. 2020): audio (b, n), (b, n) -> scalar.

    Its spectral-convergence term is left out: a norm ratio over the batch depends on how the
    batch is split across processes, and per clip it explodes on silent segments.
    """

    def __init__(
        self,
        resolutions: Sequence[Sequence[int]] = (
            (1024, 120, 600),
            (2048, 240, 1200),
            (512, 50, 240),
        ),
    ):
        super().__init__()
        self.resolutions = [tuple(r) for r in resolutions]
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, x: Tensor, i: int) -> Tensor:
        n_fft, hop, win = self.resolutions[i]
        spec = torch.stft(
            x.float(), n_fft, hop, win, getattr(self, f"window{i}"), return_complex=True
        )
        return spec.abs().clamp(min=1e-7)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        total = fake.new_zeros(())
        with torch.autocast(fake.device.type, enabled=False):
            for i in range(len(self.resolutions)):
                f, r = self._magnitude(fake, i), self._magnitude(real, i)
                total = total + F.l1_loss(torch.log(f), torch.log(r))
        return total / len(self.resolutions)


def discriminator_loss(real_scores: Sequence[Tensor], fake_scores: Sequence[Tensor]) -> Tensor:
    """LSGAN discriminator loss (Mao et al. 2017, as in HiFi-GAN): sum over members of
    E[(1 - D(x))^2] + E[D(G(z))^2]."""
    return sum(
        torch.mean((1 - r.float()) ** 2) + torch.mean(f.float() ** 2)
        for r, f in zip(real_scores, fake_scores)
    )


def generator_adversarial_loss(fake_scores: Sequence[Tensor]) -> Tensor:
    """LSGAN generator loss (HiFi-GAN): sum over members of E[(1 - D(G(z)))^2]."""
    return sum(torch.mean((1 - f.float()) ** 2) for f in fake_scores)


def feature_matching_loss(
    real_maps: Sequence[Sequence[Tensor]], fake_maps: Sequence[Sequence[Tensor]]
) -> Tensor:
    """Feature matching (Larsen et al. 2016; HiFi-GAN's form): sum over members and layers of
    the L1 between discriminator features of real and generated audio (real ones detached)."""
    return sum(
        F.l1_loss(f.float(), r.detach().float())
        for rs, fs in zip(real_maps, fake_maps)
        for r, f in zip(rs, fs)
    )


def duration_losses(logits: Tensor, durations: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """logits (b, t, j), target durations (b, t), valid (b, t) -> (L1 on frames, bin BCE).

    StyleTTS 2 (train_second.py): Kokoro's duration is the sum of j sigmoids, so each bin is a
    binary target (bin k is on when the duration exceeds k) trained with BCE, plus an L1 between
    the summed sigmoids and the duration over the tokens between the boundary pads.
    """
    bins = torch.arange(logits.shape[-1], device=logits.device)
    target = (bins[None, None, :] < durations[..., None]).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(-1)
    ce = _masked_item_mean(bce, valid)
    inner = valid.clone()
    inner[:, 0] = False  # the leading boundary pad
    inner[torch.arange(len(valid)), valid.sum(-1) - 1] = False  # the trailing one
    frames = torch.sigmoid(logits).sum(-1)
    l1 = _masked_item_mean((frames - durations.to(frames.dtype)).abs(), inner)
    return l1, ce


def f0_loss(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """F0 (b, 2f) in Hz -> smooth L1 / 10 (StyleTTS 2 train_second.py `loss_F0_rec`)."""
    return _masked_item_mean(F.smooth_l1_loss(pred, target, reduction="none"), valid) / 10


def energy_loss(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Energy N (b, 2f) -> smooth L1 (StyleTTS 2 train_second.py `loss_norm_rec`)."""
    return _masked_item_mean(F.smooth_l1_loss(pred, target, reduction="none"), valid)


def forward_sum_loss(
    logits: Tensor, token_lengths: Tensor, frame_lengths: Tensor, blank_logprob: float = -1.0
) -> Tensor:
    """logits (b, f, t) -> the alignment forward-sum loss (RAD-TTS, Badlani et al. 2022).

    The probability of all monotonic alignments of the tokens to the frames, computed by CTC
    with a blank of fixed log-probability prepended and the tokens 1..T as the target sequence;
    per item divided by its token count, then averaged.
    """
    b, f, t = logits.shape
    x = F.pad(logits.float(), (1, 0), value=blank_logprob)  # blank at class 0
    x = x.masked_fill(torch.isneginf(x), -1e4)  # CTC dislikes -inf; padded tokens stay unlikely
    log_probs = F.log_softmax(x, dim=-1).transpose(0, 1)  # (f, b, t + 1)
    targets = torch.arange(1, t + 1, device=logits.device).expand(b, t)
    return F.ctc_loss(
        log_probs,
        targets,
        frame_lengths,
        token_lengths,
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


def bin_loss(log_attn: Tensor, hard: Tensor) -> Tensor:
    """log soft alignment (b, f, t), hard path (b, f, t) -> -mean log-probability of the soft
    alignment along the hard path (RAD-TTS's binarization loss: makes the soft alignment peaky,
    so the durations MAS reads off stop drifting)."""
    on = hard > 0
    lp = torch.where(on, log_attn, torch.zeros_like(log_attn))
    per_item = -lp.sum((1, 2)) / on.sum((1, 2)).clamp(min=1)
    return per_item.mean()
