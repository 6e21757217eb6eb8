"""engine=onnx (kokoro_lab/acceleration/onnx_engine.py): onnxruntime on our int8 export of the
loaded weights, exported once into a private cache here, through the pipeline as users call it."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import compose_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory, embedded_checkpoint):
    """A cache of this module's own: the first apply below exports, the others find the file.
    (The session's embedded checkpoint is resolved first, in the usual cache, so tests of other
    modules that share it do not see this module's folder.)"""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("KOKORO_LAB_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def onnx_model(cache):
    from kokoro_lab.acceleration.engine import apply_engine
    from kokoro_lab.model import load_model

    model = load_model()
    assert apply_engine(model, "onnx") == "onnx"
    return model


def test_the_export_is_cached_verified_and_remade_when_damaged(cache, onnx_model):
    from kokoro_lab.acceleration.onnx_engine import cached_int8_export, export_key
    from kokoro_lab.io import sha256_file
    from kokoro_lab.model import load_model

    (path,) = list(cache.glob("onnx/*/kokoro.int8.onnx"))
    assert onnx_model.runtime.path == path
    digest = path.with_name("kokoro.int8.onnx.sha256")
    assert digest.read_text().strip() == sha256_file(path)
    assert not list(path.parent.glob("fp32_*"))  # the fp32 step leaves nothing behind
    model = load_model()
    stamp = path.stat().st_mtime_ns
    assert cached_int8_export(model) == path and path.stat().st_mtime_ns == stamp  # cache hit
    with open(path, "r+b") as f:  # a damaged file fails its hash check and is made anew
        f.truncate(1000)
    assert cached_int8_export(model) == path
    assert path.stat().st_size > 1_000_000 and sha256_file(path) == digest.read_text().strip()
    other = load_model()
    with torch.no_grad():
        other.bert_encoder.weight.mul_(0.5)  # other weights, another file
    assert export_key(other) != export_key(model)


def test_durations_equal_exact_and_words_are_heard(onnx_model, real_model):
    """Harvard sentences: every duration equals the float32 model's (the duration path stays
    float32 in the graph), the audio as long, Whisper hears the words; a padded batch gives what
    one-by-one calls give, and the seed does not change the audio (the export's noise is fixed)."""
    from kokoro_lab.evaluation.texts import harvard_sentences
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.metrics.error_rate import error_counts
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    voice = load_voice("jm_kumo")
    texts = harvard_sentences(3, 10)
    exact = [Pipeline(real_model, voice, lang="en-us", seed=0)(text=t) for t in texts]
    pipe = Pipeline(onnx_model, voice, lang="en-us", seed=0)
    ours = [pipe(text=t) for t in texts]
    asr = WhisperASR()
    for text, a, b in zip(texts, exact, ours):
        assert [c.durations.tolist() for c in a.chunks] == [c.durations.tolist() for c in b.chunks]
        assert a.audio.shape == b.audio.shape
        # the model's loudness (kokoro-onnx's own file is ~3 dB louder)
        rms = [float(x.audio.square().mean().sqrt()) for x in (a, b)]
        assert abs(20 * np.log10(rms[1] / rms[0])) < 1.0, rms
        heard = asr.transcribe(b.audio.numpy(), 24_000)
        assert error_counts(text, heard).rate <= 0.15, heard
    batched = pipe.synthesize_batch(texts, batch_size=3)
    for one, many in zip(ours, batched):
        assert np.array_equal(one.audio.numpy(), many.audio.numpy())
    reseeded = Pipeline(onnx_model, voice, lang="en-us", seed=5)(text=texts[0])
    assert np.array_equal(reseeded.audio.numpy(), ours[0].audio.numpy())


def test_infer_runs_engine_onnx(tmp_path, cache, onnx_model):
    """scripts/infer.py's task with engine=onnx (the cached export: no second export)."""
    from kokoro_lab.tasks.infer import infer

    out = tmp_path / "onnx.wav"
    (path,) = list(cache.glob("onnx/*/kokoro.int8.onnx"))
    stamp = os.stat(path).st_mtime_ns
    result = infer(compose_config("infer", "text=Hello there.", f"output={out}", "engine=onnx"))
    assert result.engine == "onnx" and out.stat().st_size > 10_000
    assert os.stat(path).st_mtime_ns == stamp
