"""The compiled generator (kokoro_lab/acceleration/compiled.py) and its channels-last float
convolutions (channels_last.py): each convolution equals F.conv1d to float rounding on every
generator shape it serves; torch.compile sees the generator's `synthesize` as one graph (no
graph breaks, so no per-shape recompiles and no eager fallbacks), for float32 and int8
convolutions; compiled, the real model keeps the eager durations exactly and its audio to float
rounding."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from kokoro_lab.acceleration.channels_last import ChannelsLastConv1d, to_channels_last
from kokoro_lab.config import KokoroConfig
from kokoro_lab.model import KokoroModel
from kokoro_lab.modules.weight_norm import WNConv1d, fold_weight_norm

#: Relative L2 of a channels-last float32 convolution against F.conv1d (measured 2e-7 to 6e-7:
#: another summation order of the same products).
CONV_TOLERANCE = 1e-5


def _random_model() -> KokoroModel:
    model = KokoroModel(KokoroConfig()).eval()
    fold_weight_norm(model)
    return model


def _generator_convs() -> list:
    """One convolution of each distinct (weight shape, stride, padding, dilation) in the
    generator: the residual and source blocks, the noise convolutions and conv_post."""
    seen, convs = set(), []
    for m in _random_model().decoder.generator.modules():
        if isinstance(m, (WNConv1d, nn.Conv1d)):
            w = m.weight() if callable(m.weight) else m.weight
            key = (tuple(w.shape), str(m.stride), str(m.padding), str(m.dilation))
            if key not in seen:
                seen.add(key)
                convs.append(pytest.param(m, id="-".join(map(str, key)).replace(" ", "")))
    return convs


CONVS = _generator_convs()


def test_every_generator_shape_is_served():
    # 18 residual shapes (128/256 ch x kernels 3/7/11 x dilations 1/3/5), 2 strided + 1 1x1
    # noise convolutions (one of them shares a residual shape's key), conv_post
    assert len(CONVS) >= 21
    assert any(p.values[0].stride not in (1, (1,)) for p in CONVS)


@pytest.mark.parametrize("conv", CONVS)
def test_channels_last_conv_equals_conv1d(conv):
    fast = ChannelsLastConv1d.from_conv(conv)
    c_in = fast.weight.shape[1] * fast.groups
    torch.manual_seed(0)
    for x in (torch.randn(2, c_in, 600), torch.rand(1, c_in, 607) * 3 - 0.5):
        channels_last_input = x.transpose(1, 2).contiguous().transpose(1, 2)
        with torch.inference_mode():
            ref = conv(x)
            for inp in (x, channels_last_input):
                out = fast(inp)
                assert out.shape == ref.shape
                assert out.stride()[1] == 1  # laid out (b, t, o): the layout the glue keeps
                assert float((out - ref).norm() / ref.norm()) < CONV_TOLERANCE


def test_to_channels_last_swaps_every_float_conv_in_place():
    generator = _random_model().decoder.generator
    before = sum(isinstance(m, (WNConv1d, nn.Conv1d)) for m in generator.modules())
    assert to_channels_last(generator) == before
    assert not any(isinstance(m, (WNConv1d, nn.Conv1d)) for m in generator.modules())


def _generator_inputs(generator, frames: int = 40):
    torch.manual_seed(1)
    x = torch.randn(1, 512, frames)
    style = torch.randn(1, 128)
    f0 = torch.rand(1, frames) * 150 + 80
    har = generator._source_spectrum(f0, None, torch.Generator().manual_seed(0))
    return x, style, har


@pytest.mark.parametrize("engine", ["exact", "int8"])
def test_synthesize_compiles_as_one_graph(engine):
    """torch._dynamo.explain traces without running Inductor: a graph break (a lazy weight pack,
    a version-counter check, a random draw) would split the generator into pieces that recompile
    per shape and fall back to eager past the recompile limit."""
    from kokoro_lab.acceleration.int8_model import quantize_decoder

    model = _random_model()
    if engine == "int8":
        quantize_decoder(model)
    generator = model.decoder.generator
    to_channels_last(generator)
    inputs = _generator_inputs(generator)
    torch._dynamo.reset()
    with torch.inference_mode():
        explained = torch._dynamo.explain(generator.synthesize)(*inputs)
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
    assert explained.graph_count == 1


@pytest.mark.slow
def test_compiled_model_keeps_durations_and_audio(real_model):
    """The real model with its generator compiled (channels-last, Inductor) and warmed up: the
    same durations as eager float32 and the same audio to float rounding, on two Harvard
    sentences of other lengths than the warm-up's, which reuse its one compiled graph (dynamic
    shapes)."""
    from torch._dynamo.utils import counters

    from kokoro_lab.acceleration.compiled import compile_generator, warm_up
    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.text import model_input_ids, phonemize
    from kokoro_lab.voices import load_voice

    compiled = copy.deepcopy(real_model)
    compile_generator(compiled)
    voice = load_voice("jf_alpha")
    texts = harvard_sentences(2, 20)  # list 3: 'Sail the ...', of different lengths
    torch._dynamo.reset()
    counters.clear()
    warm_up(compiled)  # what serve.py compile=true does before taking requests
    graphs = counters["stats"]["unique_graphs"]
    assert graphs == 1
    for text in texts:
        ids = model_input_ids(phonemize(text, "en-us"))
        tokens, style = torch.tensor([ids]), voice.select(len(ids) - 2)
        with torch.inference_mode():
            ref = real_model(tokens, style, generator=torch.Generator().manual_seed(3))
            out = compiled(tokens, style, generator=torch.Generator().manual_seed(3))
        assert torch.equal(out.durations, ref.durations)
        assert out.audio.shape == ref.audio.shape
        assert float((out.audio - ref.audio).abs().max()) < 1e-4
        assert float((out.audio - ref.audio).norm() / ref.audio.norm()) < 1e-4
    assert counters["stats"]["unique_graphs"] == graphs  # the warm-up's code served both lengths


def test_apply_engine_compiles_on_request():
    from kokoro_lab.acceleration.engine import apply_engine
    from kokoro_lab.errors import UserValueError

    model = _random_model()
    assert apply_engine(model, "exact", compile=True) == "exact"
    generator = model.decoder.generator
    assert "synthesize" in vars(generator)  # the compiled wrapper shadows the method
    assert not any(isinstance(m, (WNConv1d, nn.Conv1d)) for m in generator.modules())
    untouched = _random_model()
    assert "synthesize" not in vars(untouched.decoder.generator)
    with pytest.raises(UserValueError, match="engine=onnx"):
        apply_engine(untouched, "onnx", compile=True)  # refused before any export


def test_infer_refuses_compile_for_lines(tmp_path):
    from conftest import compose_config

    from kokoro_lab.errors import UserValueError
    from kokoro_lab.tasks.infer import infer

    lines = tmp_path / "lines.txt"
    lines.write_text("One line.\n", encoding="utf-8")
    cfg = compose_config(
        "infer", f"text_file={lines}", "lines=true", "compile=true", f"output_dir={tmp_path}/o"
    )
    with pytest.raises(UserValueError, match="compile=true"):
        infer(cfg)
    assert not (tmp_path / "o").exists()
