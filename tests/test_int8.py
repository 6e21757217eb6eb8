"""int8 convolutions (kokoro_lab/acceleration): each equals F.conv1d within the stated tolerance on
every convolution shape of the decoder it serves, on random inputs; oneDNN runs a real int8
kernel (not its reference fallback); a model with its generator in int8 keeps the float32
durations exactly and speaks the same sentence intelligibly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from kokoro_lab.acceleration.cpu_features import cpu_features, cpu_flags
from kokoro_lab.acceleration.int8_conv import Int8Conv1d, quantize_activations, quantize_weight
from kokoro_lab.config import KokoroConfig
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.weight_norm import WNConv1d

#: Relative L2 error of one int8 convolution against float32 (measured ~1.0-1.2% on Gaussian
#: inputs, ~0.5% on uniform ones: 8-bit activations over the input's whole range).
CONV_TOLERANCE = 0.02


def _decoder_conv_shapes() -> list[tuple]:
    """(c_out, c_in, k, padding, dilation) of every convolution quantize_decoder converts."""
    from kokoro_lab.acceleration.int8_model import DECODER_PARTS, GENERATOR_PARTS

    decoder = KokoroModel(KokoroConfig()).decoder
    parts = [getattr(decoder.generator, p) for p in GENERATOR_PARTS]
    parts += [getattr(decoder, p) for p in DECODER_PARTS]
    shapes = set()
    for part in parts:
        for m in part.modules():
            if isinstance(m, WNConv1d) and m.weight_v.shape[-1] > 1:
                shapes.add((*m.weight_v.shape, m.padding, m.dilation))
    return sorted(shapes)


SHAPES = _decoder_conv_shapes()


def test_the_shapes_are_the_decoders():
    # 18 generator shapes (128/256 channels x kernels 3/7/11 x dilations 1/3/5) + the decoder's
    assert len({s for s in SHAPES if s[0] in (128, 256)}) == 18
    assert (1024, 1024, 3, 1, 1) in SHAPES


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_int8_conv_equals_conv1d(shape):
    out_ch, in_ch, k, padding, dilation = shape
    torch.manual_seed(0)
    conv = WNConv1d(in_ch, out_ch, k, 1, padding, dilation)
    conv.fold()
    q = Int8Conv1d.from_conv(conv)
    steps = 600 if in_ch <= 256 else 120  # a sentence's length at each stage, shortened
    for x in (torch.randn(2, in_ch, steps), torch.rand(1, in_ch, steps + 7) * 3 - 0.5):
        with torch.inference_mode():
            ref, out = conv(x), q(x)
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert float((out - ref).norm() / ref.norm()) < CONV_TOLERANCE


def test_quantization_rounds_to_the_grid():
    w = torch.tensor([[[0.5, -1.0, 0.25]], [[0.0, 0.0, 0.0]]])
    codes, scale = quantize_weight(w)
    assert codes.dtype == torch.int8 and codes[0].tolist() == [[64, -127, 32]]
    assert scale[1] == 1 and codes[1].abs().sum() == 0  # an all-zero row stays zero
    x = torch.tensor([[[-1.0, 0.0, 3.0]]])
    qx, s, zp = quantize_activations(x)
    assert qx.dtype == torch.uint8 and qx[0, 0, 1] == zp  # zero is exact: padding stays zero
    assert torch.allclose((qx.float() - zp) * s, x, atol=float(s) / 2 + 1e-7)
    positive = torch.rand(1, 4, 10) + 1
    _, _, zp = quantize_activations(positive)
    assert int(zp) == 0  # the range always holds 0
    _, s, _ = quantize_activations(torch.zeros(1, 4, 10))
    assert float(s) == 1.0  # all zeros: any scale is exact, none divides by zero


def test_onednn_runs_a_real_int8_kernel():
    """ONEDNN_VERBOSE names the kernel: brgemm/jit with the CPU's ISA, never `ref` (the slow
    reference loop oneDNN falls back to where it has no int8 kernel)."""
    code = (
        "import torch; from kokoro_lab.acceleration.int8_conv import Int8Conv1d;"
        "c = torch.nn.Conv1d(128, 128, 7, padding=3);"
        "Int8Conv1d.from_conv(c)(torch.randn(1, 128, 500))"
    )
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    convs = [line for line in out.splitlines() if ",exec," in line and ",convolution," in line]
    assert convs, out[-2000:]
    implementation = convs[-1].split(",")[6]  # v1,primitive,exec,cpu,convolution,IMPL
    assert "src:u8" in convs[-1] and "wei:s8" in convs[-1]
    assert not implementation.startswith("ref"), convs[-1]
    if cpu_features().int8_dot and "amx" not in cpu_features().kind:
        assert "vnni" in implementation, convs[-1]  # VNNI's u8 x s8 dot product is used


def test_cpu_flags_are_read_from_cpuinfo():
    text = "processor : 0\nflags : fpu avx2 avx512f avx512_vnni avx512_bf16 sse\n"
    assert cpu_flags(text) == ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    assert cpu_flags("no flags here") == ()
    here = cpu_features()
    assert here.capability == torch.backends.cpu.get_cpu_capability()
    json.dumps(here.as_dict())
    # bf16 needs both the flag and oneDNN's bf16 kernels; int8_dot a VNNI/AMX flag
    assert here.bf16 == (
        bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        and any(f in here.flags for f in ("avx512_bf16", "amx_bf16"))
    )


@pytest.mark.slow
def test_int8_generator_keeps_durations_and_words(real_model):
    """Harvard sentences through the float32 and the int8 model: durations identical (the
    predictor is float32 in both), and Whisper hears the same words."""
    import copy

    from kokoro_lab.acceleration.int8_model import quantize_decoder
    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.metrics.error_rate import error_counts
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    int8 = copy.deepcopy(real_model)
    # 6 residual blocks (2 stages x kernels 3, 7, 11) and 2 source blocks, each 3 x 2 convolutions
    assert quantize_decoder(int8) == 36 + 12
    voice = load_voice("jm_kumo")
    texts = harvard_sentences(3, 10)
    outs = {}
    for name, model in (("fp32", real_model), ("int8", int8)):
        pipe = Pipeline(model, voice, lang="en-us", seed=0)
        outs[name] = [pipe(text=t) for t in texts]
    asr = WhisperASR()
    for text, a, b in zip(texts, outs["fp32"], outs["int8"]):
        assert [c.durations.tolist() for c in a.chunks] == [c.durations.tolist() for c in b.chunks]
        assert a.audio.shape == b.audio.shape
        errors = []
        for audio in (a.audio, b.audio):
            u = error_counts(text, asr.transcribe(audio.numpy(), 24_000)).utterances[0]
            errors.append(u.substitutions + u.deletions + u.insertions)
        assert errors[1] <= errors[0] + 1, (text, errors)


@pytest.mark.slow
@pytest.mark.skipif(not cpu_features().bf16, reason="engine=bf16 needs a CPU with bf16 units")
def test_bf16_decoder_keeps_durations_and_words(real_model):
    """engine=bf16 on Harvard sentences: durations identical to float32 (the predictor is not
    under autocast), the same audio length and loudness, and Whisper mishears at most one word
    more per sentence than in float32's audio (tiny.en mishears some words of this voice in
    both)."""
    import copy

    from kokoro_lab.acceleration.engine import apply_engine
    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.metrics.error_rate import error_counts
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    bf16 = copy.deepcopy(real_model)
    assert apply_engine(bf16, "bf16") == "bf16" and bf16.bf16_decoder
    voice = load_voice("jf_alpha")
    texts = harvard_sentences(3, 40)
    asr = WhisperASR()
    for text in texts:
        a = Pipeline(real_model, voice, lang="en-us", seed=0)(text=text)
        b = Pipeline(bf16, voice, lang="en-us", seed=0)(text=text)
        assert [c.durations.tolist() for c in a.chunks] == [c.durations.tolist() for c in b.chunks]
        assert a.audio.shape == b.audio.shape and b.audio.dtype == torch.float32
        db = 20 * torch.log10(b.audio.norm() / a.audio.norm())
        assert abs(float(db)) < 1.0
        errors = []
        for audio in (a.audio, b.audio):
            u = error_counts(text, asr.transcribe(audio.numpy(), 24_000)).utterances[0]
            errors.append(u.substitutions + u.deletions + u.insertions)
        assert errors[1] <= errors[0] + 1, (text, errors)


def test_engines_resolve_by_cpu_features():
    from kokoro_lab.acceleration.cpu_features import CpuFeatures
    from kokoro_lab.acceleration.engine import check_engine, fastest_engine
    from kokoro_lab.errors import UserValueError

    avx2 = CpuFeatures("AVX2", ("avx2",), int8_dot=False, bf16=False)
    vnni = CpuFeatures("AVX512", ("avx2", "avx512f", "avx512_vnni"), int8_dot=True, bf16=False)
    assert check_engine("exact", avx2) == "exact" and check_engine("int8", avx2) == "int8"
    assert fastest_engine(vnni) in ("int8", "bf16", "onnx", "exact")
    with pytest.raises(UserValueError, match="bfloat16 units"):
        check_engine("bf16", avx2)
    with pytest.raises(UserValueError, match="choose one of exact, int8, bf16, onnx, fastest"):
        check_engine("fp16", avx2)
    # on this machine: bf16 is offered exactly when the CPU has its units
    here = cpu_features()
    if here.bf16:
        assert check_engine("bf16") == "bf16"
    else:
        with pytest.raises(UserValueError):
            check_engine("bf16")
    assert check_engine("fastest") == fastest_engine(here)


def test_apply_engine_changes_only_what_it_names():
    from kokoro_lab.acceleration.engine import apply_engine

    model = KokoroModel(KokoroConfig()).eval()
    model.fold_weight_norm()
    assert apply_engine(model, "exact") == "exact" and not model.bf16_decoder
    assert not any(isinstance(m, Int8Conv1d) for m in model.modules())
    assert apply_engine(model, "int8") == "int8"
    assert sum(isinstance(m, Int8Conv1d) for m in model.modules()) == 48
    assert isinstance(model.decoder.generator.conv_post, WNConv1d)  # its error is heard directly


@pytest.mark.parametrize("kernel", [7, 11])
@pytest.mark.parametrize("dilation", [1, 3, 5])
def test_fft_conv_equals_conv1d(kernel, dilation):
    """The FFT route (acceleration/fft_conv.py) is exact to float rounding on the generator's wide
    kernels, at every block length the measurement tries (scripts/measure_fast_conv.py)."""
    import torch.nn.functional as F

    from kokoro_lab.acceleration.fft_conv import fft_conv1d, weight_spectrum

    torch.manual_seed(0)
    x, w, b = torch.randn(2, 128, 1000), torch.randn(128, 128, kernel) / 30, torch.randn(128)
    padding = dilation * (kernel - 1) // 2
    ref = F.conv1d(x, w, b, padding=padding, dilation=dilation)
    for block in (None, 128, 256, 512, 1024):
        if block is not None and block < 2 * (dilation * (kernel - 1) + 1):
            continue
        spectrum = weight_spectrum(w, dilation, block) if block else None
        out = fft_conv1d(x, w, b, padding, dilation, block, spectrum)
        assert out.shape == ref.shape
        assert float((out - ref).abs().max() / ref.abs().max()) < 1e-5


def test_the_fast_conv_measurement_measures():
    from kokoro_lab.acceleration.measure_fast_conv import measure_shape, render_rows

    row = measure_shape(64, 400, 11, 5, repeats=1)
    assert row["fft_best_block"] in row["fft_speedup_by_block"]
    assert min(row["fft_speedup_by_block"]) >= 2 * 51  # blocks shorter than 2 spans are skipped
    assert row["conv1d_ms"] > 0 and row["fft_speedup"] > 0 and row["int8_speedup"] > 0
    assert "| 64 x 400 | 11 | 5 |" in render_rows({"rows": [row]})


@pytest.mark.slow
def test_infer_runs_the_engine_it_is_given(tmp_path):
    """scripts/infer.py's task with engine=int8 and engine=fastest (resolved for this CPU and
    reported); a CPU engine on another device is refused before anything loads."""
    from conftest import compose_config

    from kokoro_lab.acceleration.engine import fastest_engine
    from kokoro_lab.errors import UserValueError
    from kokoro_lab.tasks.infer import infer

    for engine, expected in (("int8", "int8"), ("fastest", fastest_engine(cpu_features()))):
        out = tmp_path / f"{engine}.wav"
        result = infer(
            compose_config("infer", "text=Hello there.", f"output={out}", f"engine={engine}")
        )
        assert result.engine == expected and out.stat().st_size > 10_000
    with pytest.raises(UserValueError, match="CPU path"):
        infer(compose_config("infer", "text=Hi.", "engine=int8", "device=cuda"))
