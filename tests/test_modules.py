"""Per-module contracts at tiny sizes: shapes, padding invariance, batching, seeding, gradients."""

from __future__ import annotations

import pytest
import torch

from kokoro_lab.hydra_configs import model_config
from kokoro_lab.model import KokoroModel, Prosody
from kokoro_lab.modules.length_regulator import frame_to_token, rescale_durations
from kokoro_lab.modules.masking import lengths_to_valid


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = KokoroModel(model_config("tiny")).eval()
    with torch.no_grad():  # a less degenerate prosody than the default init
        model.predictor.duration_proj.linear_layer.bias.fill_(-2.0)
        model.predictor.F0_proj.bias.fill_(120.0)  # voiced, so the harmonic source is active
    return model


def _tokens(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    items = [torch.randint(1, 178, (n,), generator=g) for n in lengths]
    tokens = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, t in enumerate(items):
        tokens[i, : len(t)] = t
        tokens[i, 0] = tokens[i, len(t) - 1] = 0  # boundary pads, as the pipeline adds them
    return tokens, torch.tensor(lengths)


def test_output_shapes(tiny):
    tokens, _ = _tokens([12])
    style = torch.randn(1, 2 * tiny.config.style_dim)
    with torch.inference_mode():
        out = tiny(tokens, style, generator=torch.Generator().manual_seed(0))
    frames = int(out.durations.sum())
    assert out.durations.shape == (1, 12) and bool((out.durations >= 1).all())
    assert out.audio.shape == (1, frames * 600)
    assert out.f0.shape == out.energy.shape == (1, 2 * frames)
    assert int(out.audio_lengths[0]) == frames * 600
    assert torch.isfinite(out.audio).all() and out.audio.abs().max() > 0


def test_same_seed_same_audio_and_different_seed_differs(tiny):
    tokens, _ = _tokens([10])
    style = torch.randn(1, 32)
    with torch.inference_mode():
        a = tiny(tokens, style, generator=torch.Generator().manual_seed(7)).audio
        b = tiny(tokens, style, generator=torch.Generator().manual_seed(7)).audio
        c = tiny(tokens, style, generator=torch.Generator().manual_seed(8)).audio
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _batch_case(tiny):
    lengths = [14, 6, 9]
    tokens, lens = _tokens(lengths, seed=1)
    styles = torch.randn(3, 32, generator=torch.Generator().manual_seed(3))
    return lengths, tokens, lengths_to_valid(lens), styles


def test_padded_batch_prosody_equals_items(tiny):
    """Durations identical and F0 / N equal to float precision for every item of a padded batch."""
    lengths, tokens, valid, styles = _batch_case(tiny)
    with torch.inference_mode():
        batch, _ = tiny.predict_prosody(tokens, styles, valid=valid)
        for i, n in enumerate(lengths):
            solo, _ = tiny.predict_prosody(tokens[i : i + 1, :n], styles[i : i + 1])
            assert torch.equal(batch.durations[i, :n], solo.durations[0])
            assert bool((batch.durations[i, n:] == 0).all())
            f = solo.f0.shape[-1]
            assert int(batch.frame_valid[i].sum()) * 2 == f
            torch.testing.assert_close(batch.f0[i, :f], solo.f0[0], atol=1e-4, rtol=1e-5)
            torch.testing.assert_close(batch.energy[i, :f], solo.energy[0], atol=1e-4, rtol=1e-5)


def test_padded_batch_decoder_equals_items(tiny):
    """Given the same prosody, each item's audio in a padded batch equals its solo audio."""
    lengths, tokens, valid, styles = _batch_case(tiny)
    with torch.inference_mode():
        solos = [
            tiny.predict_prosody(tokens[i : i + 1, :n], styles[i : i + 1])[0]
            for i, n in enumerate(lengths)
        ]
        durations = torch.zeros_like(tokens)
        for i, (n, p) in enumerate(zip(lengths, solos)):
            durations[i, :n] = p.durations[0]
        index, frame_valid = frame_to_token(durations)
        f0 = torch.zeros(3, 2 * index.shape[1])
        energy = torch.zeros_like(f0)
        for i, p in enumerate(solos):
            f0[i, : p.f0.shape[-1]], energy[i, : p.f0.shape[-1]] = p.f0[0], p.energy[0]
        batch = tiny.decode(
            tokens,
            styles,
            Prosody(durations, f0, energy, index, frame_valid),
            valid,
            [torch.Generator().manual_seed(100 + i) for i in range(3)],
        )
        for i, (n, p) in enumerate(zip(lengths, solos)):
            solo = tiny.decode(
                tokens[i : i + 1, :n],
                styles[i : i + 1],
                p,
                None,
                torch.Generator().manual_seed(100 + i),
            )
            m = solo.shape[-1]
            # float32 sums in another order through ~40 conv layers: 1e-4 of unit-scale audio
            torch.testing.assert_close(batch[i, :m], solo[0], atol=1e-4, rtol=1e-4)
            assert bool((batch[i, m:] == 0).all())


def test_padded_batch_end_to_end_close_to_items(tiny):
    """Whole forward: the F0 differences above (~1e-5 Hz) move the harmonic source's phase by
    ~1e-3 rad after thousands of accumulated samples, and the STFT phase of near-silent bins
    flips between +pi and -pi, so audio is compared by relative L2 error, not sample by sample."""
    lengths, tokens, valid, styles = _batch_case(tiny)
    with torch.inference_mode():
        gens = [torch.Generator().manual_seed(100 + i) for i in range(3)]
        batch = tiny(tokens, styles, valid=valid, generator=gens)
        for i, n in enumerate(lengths):
            solo = tiny(
                tokens[i : i + 1, :n],
                styles[i : i + 1],
                generator=torch.Generator().manual_seed(100 + i),
            )
            assert torch.equal(batch.durations[i, :n], solo.durations[0])
            m = int(batch.audio_lengths[i])
            assert m == solo.audio.shape[-1]
            err = (batch.audio[i, :m] - solo.audio[0]).norm() / solo.audio[0].norm()
            assert err < 0.1, f"item {i}: relative L2 error {err:.3f}"


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = KokoroModel(model_config("tiny")).train()
    tokens, lens = _tokens([9, 7], seed=2)
    valid = lengths_to_valid(lens)
    style = torch.randn(2, 32)
    prosody, d = model.predict_prosody(tokens, style, valid=valid)
    audio = model.decode(tokens, style, prosody, valid, torch.Generator().manual_seed(0))
    logits = model.predictor.duration_logits(d, valid)
    loss = (
        audio.square().mean() + logits.sigmoid().mean() + prosody.f0.mean() + prosody.energy.mean()
    )
    loss.backward()
    # The pooler is in the checkpoint layout but Kokoro never uses it.
    unused = {"bert.pooler.weight", "bert.pooler.bias"}
    dead = [
        n
        for n, p in model.named_parameters()
        if n not in unused and (p.grad is None or not bool(p.grad.abs().sum() > 0))
    ]
    assert dead == []


def test_rescaled_durations_sum_to_the_frames():
    d = rescale_durations([12, 1, 3, 2, 20, 1], 50)
    assert sum(d) == 50 and min(d) >= 1 and len(d) == 6
    assert rescale_durations([1, 1, 1], 3) == [1, 1, 1]
