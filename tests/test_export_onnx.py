"""scripts/export_onnx.py: our ONNX export (kokoro_lab.onnx_export) against the torch model.

Tolerances (measured values in docs/onnx_export.md, six Harvard sentences, voice jf_alpha):
- fp32: durations identical; waveform SNR >= 30 dB (measured ~40); MCD <= 0.1 dB (~0.03);
  loudness within 0.1 dB (~0.00). For scale: two torch renders that differ only in the seed of
  the excitation noise are ~20 dB SNR / ~0.18 dB MCD apart.
- int8: durations identical (the duration path is not quantized); loudness within 0.5 dB of
  torch; MCD <= 1.5 dB (measured ~0.9: the quantization noise of the generator's convolutions).
The torch side runs with the export's deterministic noise table (kokoro_lab/onnx_export/noise.py).
"""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
import torch
from conftest import compose_config, run_script

from kokoro_lab.errors import UserError
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.io import atomic_write
from kokoro_lab.modules.length_regulator import frame_to_token
from kokoro_lab.onnx_export.export import reference_model
from kokoro_lab.onnx_export.graph import frame_index
from kokoro_lab.onnx_export.noise import TabledSineGen
from kokoro_lab.onnx_export.stft import ExportConvSTFT, atan2
from kokoro_lab.onnx_export.task import FP32_NAME, INT8_NAME, export_onnx, output_folder
from kokoro_lab.onnx_export.verify import compare, feeds, ort_session, torch_reference
from kokoro_lab.text import phonemize

# --- fast: the pieces ------------------------------------------------------------------------


def _onnx_run(module: torch.nn.Module, tmp_path, *args: torch.Tensor) -> np.ndarray:
    path = tmp_path / "piece.onnx"
    names = [f"x{i}" for i in range(len(args))]
    axes = {n: {a: f"{n}_{a}" for a in range(t.dim())} for n, t in zip(names, args)}
    torch.onnx.export(module, args, str(path), input_names=names, dynamic_axes=axes, dynamo=False)
    return ort_session(path).run(None, {n: t.numpy() for n, t in zip(names, args)})[0]


class _Atan2(torch.nn.Module):
    def forward(self, y, x):
        return atan2(y, x)


class _Atan2Torch(torch.nn.Module):
    def forward(self, y, x):
        return torch.atan2(y, x)


SIGNED_ZEROS = (
    torch.tensor([-0.0, 0.0, 1e-9, -1e-9, 0.0, 0.0, 1.0, -1.0, 0.3, -0.7, 0.0]),
    torch.tensor([-1.0, -1.0, -1.0, -1.0, 0.0, 1.0, 0.0, 0.0, -0.2, 0.5, -2.0]),
)


def test_onnx_atan2_is_torch_atan2_at_signed_zeros(tmp_path):
    """torch.atan2 exported as is gives -pi at (+0, -1) and NaN at (0, 0) in onnxruntime: the
    bug our atan2 exists for (checked here so the test would notice a fixed exporter)."""
    want = torch.atan2(*SIGNED_ZEROS).numpy()
    np.testing.assert_allclose(_onnx_run(_Atan2(), tmp_path, *SIGNED_ZEROS), want, atol=1e-6)
    plain = _onnx_run(_Atan2Torch(), tmp_path, *SIGNED_ZEROS)
    assert not np.allclose(plain, want, atol=1e-6, equal_nan=False)


def test_export_stft_phase_is_torch_stft_phase_in_onnxruntime(tmp_path):
    """Magnitude and phase of the export's STFT in onnxruntime against torch.stft, the DC and
    Nyquist bins (exactly real) included; two lengths through one traced graph."""

    class Phase(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stft = ExportConvSTFT(20, 5)

        def forward(self, x):
            return torch.cat(self.stft.transform(x), dim=1)

    g = torch.Generator().manual_seed(0)
    for n in (4000, 2500):
        x = torch.randn(1, n, generator=g)
        spec = torch.stft(x, 20, 5, window=torch.hann_window(20), return_complex=True)
        got = _onnx_run(Phase(), tmp_path, x)
        np.testing.assert_allclose(got[:, :11], spec.abs().numpy(), atol=1e-5)
        for k in (0, 10):  # real bins: the phase is exactly 0 or pi, as torch's
            np.testing.assert_allclose(got[:, 11 + k], spec.angle()[:, k].numpy(), atol=1e-5)


def test_frame_index_equals_the_models_alignment():
    durations = torch.tensor([[1, 3, 1, 7, 2, 1]])
    index, valid = frame_to_token(durations)
    assert valid.all() and torch.equal(frame_index(durations), index)


def test_tabled_noise_is_fixed_gaussian_and_follows_the_length():
    from kokoro_lab.modules.source import SineGen

    gen = TabledSineGen(SineGen(24_000, 300))
    like = torch.zeros(2, 60_000, 9)
    a = gen._noise((2, 60_000, 9), like, None)
    assert torch.equal(a, gen._noise((2, 60_000, 9), like, None))  # deterministic
    assert torch.equal(a[0], a[1])  # a function of the position only
    assert torch.equal(a[0, 48_000:], a[0, : 60_000 - 48_000])  # the table repeats after 2 s
    assert abs(float(a.std()) - 1) < 0.02 and abs(float(a.mean())) < 0.02


def test_output_that_is_a_file_is_a_one_line_error(tmp_path):
    existing = tmp_path / "model.onnx"
    existing.write_bytes(b"x")
    proc = run_script("export_onnx.py", f"output={existing}", timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: output=") and "is a file" in lines[0]
    assert existing.read_bytes() == b"x"


def test_config_composes_and_a_mistyped_key_is_a_user_error():
    cfg = compose_config("export_onnx", "output=out", "model=tiny")
    assert cfg.output == "out" and cfg.checkpoint is None and cfg.int8 is True
    with pytest.raises(UserError, match="outptu"):
        compose_config("export_onnx", "outptu=out")


def test_unwritable_output_is_a_user_error():
    if os.geteuid() == 0:  # root writes anywhere permissions allow, but not under /sys
        target = "/sys/kokoro_lab_export_test"
    else:
        target = "/proc/kokoro_lab_export_test"
    with pytest.raises(UserError, match="cannot be created"):
        output_folder(target)


def test_a_failed_write_leaves_no_file(tmp_path):
    """The files are written through atomic_write: a writer that dies halfway leaves nothing."""
    target = tmp_path / INT8_NAME

    def half_then_fail(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("quantizer crashed")

    with pytest.raises(RuntimeError, match="quantizer crashed"):
        atomic_write(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []


# --- slow: the real export --------------------------------------------------------------------

SENTENCES = harvard_sentences(3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The task run once on the embedded weights: {fp32, int8} paths."""
    folder = tmp_path_factory.mktemp("onnx") / "new_dir"  # created by the task
    result = export_onnx(compose_config("export_onnx", f"output={folder}"))
    assert [p.name for p in result.paths] == [FP32_NAME, INT8_NAME]
    assert sorted(p.name for p in folder.iterdir()) == sorted([FP32_NAME, INT8_NAME])
    return {"fp32": folder / FP32_NAME, "int8": folder / INT8_NAME}


@pytest.fixture(scope="module")
def references(real_model, alpha):
    """(feed, torch reference) per sentence, lengths all different."""
    ref = reference_model(real_model)
    items = [feeds(phonemize(s, "en-us"), alpha) for s in SENTENCES]
    lengths = [f["tokens"].shape[1] for f in items]
    assert len(set(lengths)) > 1, lengths
    return [(f, torch_reference(ref, f)) for f in items]


@pytest.mark.slow
def test_interface_is_kokoro_onnx(exported):
    for path in exported.values():
        proto = onnx.load(str(path), load_external_data=False)
        inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
        assert list(inputs) == ["tokens", "style", "speed"]
        assert inputs["tokens"].elem_type == onnx.TensorProto.INT64
        assert inputs["tokens"].shape.dim[1].dim_param  # dynamic text length
        assert [o.name for o in proto.graph.output] == ["audio", "duration"]
        assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.slow
def test_fp32_matches_torch(exported, references):
    session = ort_session(exported["fp32"])  # one session, several token lengths
    for feed, ref in references:
        c = compare(session, ref, feed)
        assert c.durations_equal
        assert c.snr_db >= 30 and c.mcd_db <= 0.1, c
        assert abs(c.loudness_delta_db) <= 0.1, c


@pytest.mark.slow
def test_int8_matches_torch_within_the_quantization_bound(exported, references):
    session = ort_session(exported["int8"])
    for feed, ref in references:
        c = compare(session, ref, feed)
        assert c.durations_equal
        assert c.mcd_db <= 1.5, c
        assert abs(c.loudness_delta_db) <= 0.5, c


@pytest.mark.slow
def test_kokoro_onnx_runs_the_files_unchanged(exported, alpha):
    """kokoro_onnx.Kokoro loads each file as it loads its own and speaks; our `duration` output
    gives it phoneme timings."""
    import kokoro_onnx

    from kokoro_lab.hub import embedded_voices_path

    phonemes = phonemize(SENTENCES[0], "en-us")
    for path in exported.values():
        kokoro = kokoro_onnx.Kokoro(str(path), str(embedded_voices_path()))
        assert kokoro.has_timings
        audio, rate, timings = kokoro.create_timed(phonemes, "jf_alpha", is_phonemes=True)
        assert rate == 24_000 and audio.dtype == np.float32 and len(audio) > rate
        assert 0.01 < float(np.sqrt(np.mean(audio**2))) < 0.2
        assert len(timings) == len(phonemes) and timings[-1].end <= len(audio) / rate + 1e-6


@pytest.mark.slow
def test_profile_shares_the_kernel_time_by_operator(exported):
    """python -m kokoro_lab.onnx_export.profile: onnxruntime's profiler on the int8 file."""
    from kokoro_lab.onnx_export.profile import profile

    result = profile(str(exported["int8"]), sentences=1, threads=1)
    assert "QLinearConv" in result["by_op"] and "Sin" in result["by_op"]  # int8 convs, Snake
    assert 0.5 < sum(result["by_op"].values()) <= 1.0001 and result["wall_s"] > 0
    assert all(0 <= v <= 1 for v in result["by_scope"].values())
