"""Batched, streamed and timestamped synthesis agree with plain synthesis (real weights)."""

from __future__ import annotations

import pytest
import torch

from kokoro_lab.pipeline import Pipeline
from kokoro_lab.timestamps import timestamps
from kokoro_lab.voices import load_voice

TEXTS = [
    "A rod is used to catch pink salmon.",
    "Help the woman get back to her feet. The boy was there when the sun rose.",
    "Kick the ball.",
]


@pytest.fixture(scope="module")
def pipe(real_model):
    return Pipeline(real_model, load_voice("jm_kumo"), lang="en-us", seed=4)


@pytest.mark.slow
def test_batched_equals_per_item(pipe):
    """Mixed lengths in one padded batch: durations identical; audio within tolerance. The
    prosody path reorders float sums with padding (F0 moves by ~1e-4 Hz) and the harmonic
    source's phase amplifies that in near-silent STFT bins (tests/test_parity.py), so audio is
    compared by relative L2 error rather than sample by sample."""
    batched = pipe.synthesize_batch(TEXTS, batch_size=4)
    for text, b in zip(TEXTS, batched):
        solo = pipe(text=text)
        assert [c.phonemes for c in b.chunks] == [c.phonemes for c in solo.chunks]
        for cb, cs in zip(b.chunks, solo.chunks):
            assert torch.equal(cb.durations, cs.durations)
        assert b.audio.shape == solo.audio.shape
        rel = float((b.audio - solo.audio).norm() / solo.audio.norm())
        assert rel < 0.05, rel


@pytest.mark.slow
def test_stream_concatenates_to_whole_and_first_chunk_is_first_sentence(pipe, real_model):
    text = " ".join(TEXTS * 6)  # two chunks of the official chunking
    whole = pipe(text=text)
    assert len(whole.chunks) == 2
    official = Pipeline(real_model, pipe.voice, seed=4, first_sentence_alone=False)
    assert torch.equal(torch.cat([c.audio for c in official.stream(text=text)]), whole.audio)
    chunks = list(pipe.stream(text=text))
    assert chunks[0].text == TEXTS[0]  # first audio after one sentence's work
    assert " ".join(c.phonemes for c in chunks) == whole.phonemes
    # Joins: each chunk starts and ends in its boundary tokens' near-silence, so the step across
    # a join is no larger than ordinary sample-to-sample steps inside the speech.
    steps = torch.cat([c.audio.diff().abs() for c in chunks])
    for a, b in zip(chunks, chunks[1:]):
        assert abs(float(b.audio[0] - a.audio[-1])) <= float(steps.quantile(0.99))


def test_timestamps_monotonic_cover_audio_and_split_at_pause(pipe):
    result = pipe(text="Hello. World.")
    ts = timestamps(result)
    ph = ts["phonemes"]
    assert all(p["start"] <= p["end"] for p in ph)
    assert all(a["end"] <= b["start"] + 1e-9 for a, b in zip(ph, ph[1:]))
    assert ph[-1]["end"] <= ts["duration"] and ts["duration"] - ph[-1]["end"] < 0.5
    hello, world = ts["words"]
    # espeak's words keep their punctuation ("Hello."), misaki's tokens split it off
    assert hello["word"].rstrip(".") == "Hello" and world["word"].rstrip(".") == "World"
    # The pause after "Hello." belongs to the period; "World." starts after it.
    period = next(p for p in ph if p["phoneme"] == ".")
    assert hello["end"] <= period["end"] <= world["start"]
    # 600 samples a duration frame: the first chunk's phoneme spans tile its frames exactly.
    first = result.chunks[0]
    frames = int(first.durations[1:-1].sum())
    n = len(first.tokens) - 2
    assert abs((ph[n - 1]["end"] - ph[0]["start"]) - frames * 600 / 24000) < 1e-3
