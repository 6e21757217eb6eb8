"""ISTFTNet generator (Kaneko et al. 2022) with an hn-NSF harmonic source, as in Kokoro.

Axes: b batch, c channels, f frames at the current rate, n audio samples, k frequency bins,
s style (the decoder half of the voicepack row).

Two transposed-conv upsamplers (10x, 6x) each followed by three AdaIN + Snake residual blocks
(kernels 3, 7, 11) whose outputs are averaged; at each stage the STFT of the harmonic source is
injected through a strided conv and its own residual block. `conv_post` predicts a log-magnitude
and a phase for a 20-point iSTFT with hop 5, which gives the final 5x to audio (300x in all).
Follows `Generator` / `AdaINResBlock1` of hexgrad/kokoro istftnet.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kokoro_lab.config import SAMPLE_RATE, ISTFTNetConfig
from kokoro_lab.modules.adain import AdaIN1d
from kokoro_lab.modules.masking import lengths_to_valid, zero_invalid
from kokoro_lab.modules.source import NoiseGenerator, SourceModuleHnNSF
from kokoro_lab.modules.stft import ConvSTFT, TorchSTFT
from kokoro_lab.modules.weight_norm import WNConv1d, WNConvTranspose1d

STAGE_SLOPE = 0.1  # LeakyReLU before each upsampler (HiFi-GAN's LRELU_SLOPE)
POST_SLOPE = 0.01  # the default-slope LeakyReLU before conv_post


def snake(x: Tensor, alpha: Tensor) -> Tensor:
    """Snake activation (Ziyin et al. 2020): x + sin^2(alpha x) / alpha, per channel.

    Without autograd the temporaries are reused in place (4 passes over x instead of 5 and one
    allocation instead of four): the generator's elementwise work is memory-bound.
    """
    if torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad):
        return x + (1 / alpha) * torch.sin(alpha * x).square()
    s = torch.mul(x, alpha).sin_().square_()
    return torch.addcmul(x, s, alpha.reciprocal())


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class AdaINResBlock1(nn.Module):
    """HiFi-GAN ResBlock1 with AdaIN and Snake: x (b, c, f), style (b, s) -> (b, c, f)."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int], style_dim: int):
        super().__init__()
        n = len(dilations)
        self.convs1 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, 1, _padding(kernel_size, d), d)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, 1, _padding(kernel_size)) for _ in range(n)
        )
        self.adain1 = nn.ModuleList(AdaIN1d(style_dim, channels) for _ in range(n))
        self.adain2 = nn.ModuleList(AdaIN1d(style_dim, channels) for _ in range(n))
        self.alpha1 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in range(n))
        self.alpha2 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in range(n))

    def forward(self, x: Tensor, style: Tensor, valid: Tensor | None = None) -> Tensor:
        for c1, c2, n1, n2, a1, a2 in zip(
            self.convs1, self.convs2, self.adain1, self.adain2, self.alpha1, self.alpha2
        ):
            h = c1(zero_invalid(snake(n1(x, style, valid), a1), valid))
            h = c2(zero_invalid(snake(n2(h, style, valid), a2), valid))
            x = x + h
        return x


class Generator(nn.Module):
    """Decoder features (b, c, f), style (b, s), F0 (b, f) in Hz -> audio (b, 300 f)."""

    def __init__(self, style_dim: int, cfg: ISTFTNetConfig, conv_stft: bool = False):
        super().__init__()
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.upsample_rates = tuple(cfg.upsample_rates)
        self.n_fft, self.hop = cfg.gen_istft_n_fft, cfg.gen_istft_hop_size
        self.upsample_scale = math.prod(cfg.upsample_rates) * self.hop
        self.m_source = SourceModuleHnNSF(
            SAMPLE_RATE, self.upsample_scale, cfg.harmonic_num, cfg.voiced_threshold
        )
        source_channels = self.n_fft + 2  # magnitude and phase of n_fft/2 + 1 bins
        self.ups = nn.ModuleList()
        self.noise_convs = nn.ModuleList()
        self.noise_res = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = cfg.upsample_initial_channel
        for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            ch_in, ch = ch, ch // 2
            self.ups.append(WNConvTranspose1d(ch_in, ch, k, u, padding=(k - u) // 2))
            for rk, rd in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(AdaINResBlock1(ch, rk, rd, style_dim))
            if i + 1 < len(cfg.upsample_rates):
                stride = math.prod(cfg.upsample_rates[i + 1 :])
                self.noise_convs.append(
                    nn.Conv1d(source_channels, ch, 2 * stride, stride, padding=(stride + 1) // 2)
                )
                self.noise_res.append(AdaINResBlock1(ch, 7, (1, 3, 5), style_dim))
            else:
                self.noise_convs.append(nn.Conv1d(source_channels, ch, 1))
                self.noise_res.append(AdaINResBlock1(ch, 11, (1, 3, 5), style_dim))
        self.conv_post = WNConv1d(ch, source_channels, 7, 1, padding=3)
        self.stft = (ConvSTFT if conv_stft else TorchSTFT)(self.n_fft, self.hop)

    def _source_spectrum(self, f0: Tensor, lengths: Tensor | None, generator) -> Tensor:
        """F0 (b, f) -> STFT magnitude and phase of the excitation (b, n_fft + 2, 60 f + 1).

        With padding (`lengths` given), each item is transformed at its own length so the STFT's
        reflect padding sees the item's real end, then zero-padded.
        """
        if lengths is None:
            return torch.cat(self.stft.transform(self.m_source(f0, generator)), dim=1)
        frames = f0.shape[1] * self.upsample_scale // self.hop + 1
        out = f0.new_zeros(f0.shape[0], self.n_fft + 2, frames)
        for i, n in enumerate(lengths.tolist()):
            g = generator[i] if isinstance(generator, Sequence) else generator
            spec = torch.cat(self.stft.transform(self.m_source(f0[i : i + 1, :n], g)), dim=1)
            out[i, :, : spec.shape[-1]] = spec[0]
        return out

    def forward(
        self,
        x: Tensor,
        style: Tensor,
        f0: Tensor,
        valid: Tensor | None = None,
        generator: NoiseGenerator = None,
    ) -> Tensor:
        """x (b, c, f), style (b, s), F0 (b, f), valid (b, f) -> audio (b, 300 f).

        `generator`: one torch.Generator for the batch, or one per item (then each item's noise
        is exactly what it would draw alone).
        """
        lengths = None if valid is None else valid.sum(-1)
        # Only the sine generation is gradient-free (as in StyleTTS 2); the harmonic mix
        # `m_source.l_linear` trains. The official inference code wraps all of this in no_grad.
        with torch.autocast(x.device.type, enabled=False):  # phase math stays float32
            har = self._source_spectrum(f0.detach().float(), lengths, generator)
        return self.synthesize(x, style, har, valid)

    def synthesize(
        self, x: Tensor, style: Tensor, har: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        """x (b, c, f), style (b, s), source spectrum har (b, n_fft + 2, 60 f + 1), valid (b, f)
        -> audio (b, 300 f): the deterministic part of `forward`, free of random draws, which
        is what `kokoro_lab.acceleration.compiled` hands to torch.compile."""
        lengths = None if valid is None else valid.sum(-1)
        v = valid
        last = len(self.ups) - 1
        for i, up in enumerate(self.ups):
            x = up(zero_invalid(F.leaky_relu(x, STAGE_SLOPE), v))
            if i == last:
                x = F.pad(x, (1, 0), mode="reflect")  # the official ReflectionPad1d((1, 0))
            if lengths is not None:
                lengths = lengths * self.upsample_rates[i] + int(i == last)
                v = lengths_to_valid(lengths, x.shape[-1])
            x = x + self.noise_res[i](self.noise_convs[i](har), style, v)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x, style, v)
            for block in blocks[1:]:
                xs = xs + block(x, style, v)
            x = xs / self.num_kernels
        x = self.conv_post(zero_invalid(F.leaky_relu(x, POST_SLOPE), v)).float()
        bins = self.n_fft // 2 + 1
        with torch.autocast(x.device.type, enabled=False):
            magnitude, phase = torch.exp(x[:, :bins]), torch.sin(x[:, bins:])
            if lengths is None:
                return self.stft.inverse(magnitude, phase)
            return self._inverse_per_item(magnitude, phase, lengths)

    @torch.compiler.disable  # a loop over data-dependent lengths: eager, not recompiled per batch
    def _inverse_per_item(self, magnitude: Tensor, phase: Tensor, frames: Tensor) -> Tensor:
        """Inverse STFT per item over its own frames (the window envelope ends where it ends)."""
        audio = magnitude.new_zeros(magnitude.shape[0], self.hop * (magnitude.shape[-1] - 1))
        for i, n in enumerate(frames.tolist()):
            y = self.stft.inverse(magnitude[i : i + 1, :, :n], phase[i : i + 1, :, :n])
            audio[i, : y.shape[-1]] = y[0]
        return audio
