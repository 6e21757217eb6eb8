"""The conv (ONNX-friendly) STFT equals torch.stft / torch.istft; weight-norm folding is exact."""

from __future__ import annotations

import torch

from kokoro_lab.modules.stft import ConvSTFT, TorchSTFT
from kokoro_lab.modules.weight_norm import WNConv1d, WNConvTranspose1d, fold_weight_norm


def test_conv_stft_matches_torch_stft():
    x = torch.randn(2, 3000, generator=torch.Generator().manual_seed(0))
    ref, conv = TorchSTFT(20, 5), ConvSTFT(20, 5)
    mag_r, ph_r = ref.transform(x)
    mag_c, ph_c = conv.transform(x)
    torch.testing.assert_close(mag_c, mag_r, atol=1e-5, rtol=1e-5)
    # Compare phase as a unit phasor: +pi and -pi are the same angle.
    torch.testing.assert_close(torch.cos(ph_c), torch.cos(ph_r), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.sin(ph_c), torch.sin(ph_r), atol=1e-4, rtol=0)


def test_conv_istft_matches_torch_istft_and_reconstructs():
    g = torch.Generator().manual_seed(1)
    mag = torch.rand(2, 11, 301, generator=g)
    phase = (torch.rand(2, 11, 301, generator=g) * 2 - 1) * torch.pi
    y_ref = TorchSTFT(20, 5).inverse(mag, phase)
    y_conv = ConvSTFT(20, 5).inverse(mag, phase)
    assert y_ref.shape == y_conv.shape == (2, 1500)
    torch.testing.assert_close(y_conv, y_ref, atol=1e-5, rtol=1e-5)
    x = torch.randn(1, 1500, generator=g)
    conv = ConvSTFT(20, 5)
    torch.testing.assert_close(conv.inverse(*conv.transform(x)), x, atol=1e-5, rtol=1e-5)


def test_weight_norm_fold_is_exact_and_unfolds_on_update():
    torch.manual_seed(0)
    layers = torch.nn.Sequential(WNConv1d(4, 6, 3, padding=1), WNConvTranspose1d(6, 5, 4, 2, 1))
    with torch.no_grad():
        for m in layers:
            m.weight_g.mul_(torch.rand_like(m.weight_g) + 0.5)  # g != ||v||, as after training
    x = torch.randn(2, 4, 17)
    with torch.no_grad():
        before = layers(x)
        assert fold_weight_norm(layers) == 2
        torch.testing.assert_close(layers(x), before, atol=1e-6, rtol=1e-6)
        assert layers[0].weight() is layers[0].weight_v  # folded: no per-call renormalization
        layers[0].weight_g.mul_(2.0)  # an in-place update unfolds it
        assert layers[0].weight() is not layers[0].weight_v
        torch.testing.assert_close(layers[0].weight(), 2 * layers[0].weight_v, atol=1e-6, rtol=1e-6)
