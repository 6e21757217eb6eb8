"""Whisper tiny.en WER on real speech: 20 Harvard sentences x the five embedded voices (en-us).

kokoro_lab's full pipeline (its default English front end for each voice) must be no worse than
kokoro-onnx as its users run it on the same weights (onnxruntime on the same ONNX file, fed
raw espeak IPA by kokoro-onnx's tokenizer: `g2p=espeak-ipa`), by more than 2 points per voice:
the CI-sized version of docs/frontend_intelligibility.md. The table is printed (pytest -s).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.hub import EMBEDDED_VOICES, embedded_onnx_path
from kokoro_lab.metrics.asr import WhisperASR
from kokoro_lab.metrics.error_rate import wer
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.text import model_input_ids
from kokoro_lab.text.frontend import make_frontend
from kokoro_lab.voices import load_voice

SENTENCES = harvard_sentences(20)


@pytest.fixture(scope="module")
def asr():
    return WhisperASR(beam_size=1)


@pytest.fixture(scope="module")
def session():
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(embedded_onnx_path()), opts, ["CPUExecutionProvider"])


@pytest.mark.slow
@pytest.mark.parametrize("voice_name", EMBEDDED_VOICES)
def test_wer_not_worse_than_onnxruntime(voice_name, real_model, asr, session):
    voice = load_voice(voice_name)
    pipeline = Pipeline(real_model, voice, lang="en-us", seed=0)
    results = pipeline.synthesize_batch(SENTENCES, batch_size=4)  # equal to one by one
    ours, theirs = [r.audio.numpy() for r in results], []
    kokoro_onnx = make_frontend("en-us", "espeak-ipa")
    for text in SENTENCES:
        ids = model_input_ids(kokoro_onnx.phonemize(text))
        (audio,) = session.run(
            None,
            {
                "tokens": np.array([ids], dtype=np.int64),
                "style": voice.select(len(ids) - 2).numpy(),
                "speed": np.ones(1, dtype=np.float32),
            },
        )
        theirs.append(audio / 1.5)  # the export's frozen window-sum gain
    wer_ours = wer(SENTENCES, asr.transcribe_batch(ours, 24000))
    wer_ort = wer(SENTENCES, asr.transcribe_batch(theirs, 24000))
    mode = pipeline.frontend.mode
    print(f"\n{voice_name}: WER kokoro_lab ({mode}) {wer_ours:.3f}  kokoro-onnx {wer_ort:.3f}")
    assert wer_ours <= wer_ort + 0.02
    assert wer_ours < 0.25  # real, intelligible speech
