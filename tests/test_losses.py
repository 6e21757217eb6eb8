"""Losses and the training-only modules: known answers, padding invariance, shapes, gradients."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from kokoro_lab.audio.features import LogMelSpectrogram
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
from kokoro_lab.modules.aligner import (
    AlignmentEncoder,
    beta_binomial_log_prior,
    durations_to_path,
    monotonic_alignment,
)
from kokoro_lab.modules.discriminators import Discriminators
from kokoro_lab.modules.masking import lengths_to_valid
from kokoro_lab.modules.style_encoder import StyleEncoder


def _audio(seed: int, n: int = 12_000) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 24_000
    return 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.05 * torch.randn(n, generator=g)


def test_reconstruction_losses_zero_on_identical_and_positive_otherwise():
    mel = LogMelSpectrogram()
    stft = MultiResolutionSTFTLoss()
    a, b = _audio(0)[None], _audio(1)[None]
    assert float(mel_loss(mel, a, a)) == 0.0
    assert float(stft(a, a)) == pytest.approx(0.0, abs=1e-6)
    assert float(mel_loss(mel, a, b)) > 0.05 and float(stft(a, b)) > 0.05


def test_stft_loss_is_a_mean_over_items():
    """So a batch split across processes averages to the loss of the whole batch."""
    stft = MultiResolutionSTFTLoss()
    fake = torch.stack([_audio(0), 0.5 * _audio(2)])
    real = torch.stack([_audio(1), _audio(3)])
    whole = stft(fake, real)
    halves = (stft(fake[:1], real[:1]) + stft(fake[1:], real[1:])) / 2
    assert float(whole) == pytest.approx(float(halves), rel=1e-5)


def test_lsgan_known_answers():
    ones, zeros = [torch.ones(3, 5)], [torch.zeros(3, 5)]
    assert float(discriminator_loss(ones, zeros)) == 0.0  # a perfect discriminator
    assert float(discriminator_loss(zeros, ones)) == 2.0  # every call wrong by 1, twice
    assert float(generator_adversarial_loss(ones)) == 0.0
    assert float(generator_adversarial_loss(zeros)) == 1.0
    maps = [[torch.randn(2, 4, 7), torch.randn(2, 3)]]
    assert float(feature_matching_loss(maps, maps)) == 0.0


def test_duration_losses_vanish_for_confident_correct_logits():
    durations = torch.tensor([[3, 2, 5, 1, 0], [1, 4, 2, 0, 0]])
    valid = durations > 0
    bins = torch.arange(50)
    logits = torch.where(bins < durations[..., None], 30.0, -30.0)
    l1, ce = duration_losses(logits, durations, valid)
    assert float(l1) < 1e-6 and float(ce) < 1e-6
    two_long = torch.where(bins < durations[..., None] + 2, 30.0, -30.0)
    worse_l1, worse_ce = duration_losses(two_long, durations, valid)
    assert float(worse_l1) == pytest.approx(2.0) and float(worse_ce) > 0.5


def test_curve_losses_ignore_padding():
    pred, target = torch.randn(2, 8), torch.randn(2, 8)
    valid = lengths_to_valid(torch.tensor([8, 5]), 8)
    noisy = torch.where(valid, pred, pred + 100)
    assert torch.equal(f0_loss(pred, target, valid), f0_loss(noisy, target, valid))
    assert torch.equal(energy_loss(pred, target, valid), energy_loss(noisy, target, valid))


def _brute_force_best_path(log_p: np.ndarray) -> tuple[float, list[int]]:
    """Every monotonic path (each token >= 1 frame, in order) of an (f, t) grid."""
    f, t = log_p.shape
    best = (-np.inf, [])
    for cuts in itertools.combinations(range(1, f), t - 1):
        bounds = [0, *cuts, f]
        durations = [bounds[k + 1] - bounds[k] for k in range(t)]
        score = sum(log_p[i, k] for k in range(t) for i in range(bounds[k], bounds[k + 1]))
        best = max(best, (score, durations))
    return best


def test_monotonic_alignment_is_the_best_monotonic_path():
    rng = np.random.default_rng(0)
    for f, t in [(6, 3), (7, 4), (5, 5), (8, 2)]:
        log_p = np.log(rng.dirichlet(np.ones(t), size=f))
        score, durations = _brute_force_best_path(log_p)
        got = monotonic_alignment(
            torch.from_numpy(log_p)[None], torch.tensor([t]), torch.tensor([f])
        )[0]
        assert got.tolist() == durations, (f, t)


def test_monotonic_alignment_batches_with_padding():
    log_p = torch.log_softmax(torch.randn(2, 9, 4), -1)
    padded = log_p.clone()
    padded[1, 6:], padded[1, :, 3:] = float("-inf"), float("-inf")
    d = monotonic_alignment(padded, torch.tensor([4, 3]), torch.tensor([9, 6]))
    alone = monotonic_alignment(log_p[1:, :6, :3], torch.tensor([3]), torch.tensor([6]))
    assert d[:, :].sum(-1).tolist() == [9, 6] and bool((d[0] >= 1).all())
    assert d[1, :3].tolist() == alone[0].tolist() and int(d[1, 3]) == 0
    path = durations_to_path(d, 9)
    assert path.sum((1, 2)).tolist() == [9.0, 6.0]


def test_beta_binomial_prior_is_a_distribution_over_tokens():
    prior = beta_binomial_log_prior(torch.tensor([5, 3]), torch.tensor([12, 7]), 5, 12).exp()
    assert torch.allclose(prior[0].sum(-1), torch.ones(12), atol=1e-5)
    assert torch.allclose(prior[1, :7, :3].sum(-1), torch.ones(7), atol=1e-5)
    # the mode walks along the diagonal
    assert prior[0, 0].argmax() == 0 and prior[0, -1].argmax() == 4


def _aligner_batch(lengths, frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 178, (len(lengths), max(lengths)), generator=g)
    mel = torch.randn(len(frames), 80, 2 * max(frames), generator=g)
    tv = lengths_to_valid(torch.tensor(lengths))
    fv = lengths_to_valid(torch.tensor(frames))
    return tokens * tv, mel, tv, fv


def test_aligner_padding_does_not_change_valid_outputs():
    torch.manual_seed(0)
    aligner = AlignmentEncoder(178, channels=16, attention_channels=8).eval()
    tokens, mel, tv, fv = _aligner_batch([7, 4], [20, 11])
    log_attn, logits = aligner(tokens, mel, tv, fv)
    alone, alone_logits = aligner(tokens[1:, :4], mel[1:, :, :22], tv[1:, :4], fv[1:, :11])
    assert torch.allclose(log_attn[1, :11, :4], alone[0], atol=1e-5)
    assert torch.allclose(logits[1, :11, :4], alone_logits[0], atol=1e-5)
    assert torch.allclose(log_attn[0].exp().sum(-1), torch.ones(20), atol=1e-5)


def test_forward_sum_loss_prefers_the_true_alignment_and_ignores_padding():
    durations = torch.tensor([[2, 3, 1, 4]])
    path = durations_to_path(durations, 10)
    good = torch.log(path * 0.97 + 0.01)
    bad = torch.log(path.flip(1) * 0.97 + 0.01)
    lengths, frames = torch.tensor([4]), torch.tensor([10])
    assert float(forward_sum_loss(good, lengths, frames)) < float(
        forward_sum_loss(bad, lengths, frames)
    )
    padded = torch.full((2, 12, 6), float("-inf"))
    padded[0, :10, :4] = good[0]
    padded[1, :10, :4] = good[0]
    both = forward_sum_loss(padded, torch.tensor([4, 4]), torch.tensor([10, 10]))
    assert float(both) == pytest.approx(float(forward_sum_loss(good, lengths, frames)), rel=1e-5)
    assert float(bin_loss(good, path)) == pytest.approx(-math.log(0.98), rel=1e-4)


def test_style_encoder_shapes_gradients_and_start_from():
    torch.manual_seed(0)
    enc = StyleEncoder(style_dim=16, channels=8, max_channels=32)
    mel = torch.randn(3, 80, 96, requires_grad=True)
    out = enc(mel)
    assert out.shape == (3, 16)
    out.square().sum().backward()
    assert all(p.grad is not None for p in enc.parameters())
    target = torch.randn(16)
    enc.start_from(target)
    assert torch.equal(enc(mel.detach()), target.expand(3, 16))
    with pytest.raises(ValueError, match="at least 80"):
        enc(torch.randn(1, 80, 60))


def test_discriminators_score_every_member():
    disc = Discriminators(period_channels=(4, 8, 8, 8, 8), spectrogram_channels=4)
    audio = _audio(0, 6_000)[None].repeat(2, 1)
    out = disc(audio)
    assert len(out) == 5 + 3
    for score, maps in out:
        assert score.shape[0] == 2 and len(maps) >= 5
    loss = discriminator_loss([s for s, _ in out], [s for s, _ in disc(audio * 0.5)])
    loss.backward()
    assert all(p.grad is not None for p in disc.parameters())
