"""scripts/infer.py end to end (offline, real weights, real espeak-ng) and its bad-input paths."""

from __future__ import annotations

import os
from functools import partial

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import compose_config, run_script

from kokoro_lab.tasks.infer import infer
from kokoro_lab.voices import load_voice

config = partial(compose_config, "infer")


def check_wav(path, min_s: float, max_s: float) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32")
    assert sr == 24000 and audio.ndim == 1
    assert min_s < len(audio) / sr < max_s
    assert np.sqrt(np.mean(audio**2)) > 0.01  # not silent
    return audio


@pytest.mark.slow
def test_default_offline_end_to_end(tmp_path):
    out = tmp_path / "hello.wav"
    text = "The birch canoe slid on the smooth planks."
    proc = run_script("infer.py", f"text={text}", f"output={out}")
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    assert "ð" in proc.stdout  # the phonemes are printed
    check_wav(out, 1.5, 5.0)  # 8 words at a natural rate


@pytest.mark.slow
def test_hub_voice_offline_fails_cleanly_then_works_with_local_file(tmp_path):
    out = tmp_path / "bella.wav"
    proc = run_script("infer.py", "+voice=af_bella", "text=Hello there.", f"output={out}")
    assert proc.returncode == 2
    assert "af_bella.pt" in proc.stderr and "voices_dir" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    voices = tmp_path / "voices"
    voices.mkdir()
    load_voice("jf_alpha").save(voices / "af_bella.pt")  # a stand-in file under that name
    proc = run_script(
        "infer.py", "+voice=af_bella", "text=Hello there.", f"output={out}", f"voices_dir={voices}"
    )
    assert proc.returncode == 0, proc.stderr
    check_wav(out, 0.4, 3.0)


@pytest.mark.slow
def test_lines_mode_writes_numbered_wavs(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("A small line.\n\nAnother one here.\n", encoding="utf-8")
    cfg = config(f"text_file={lines}", "lines=true", f"output_dir={tmp_path / 'out'}")
    result = infer(cfg)
    assert [p.name for p in result.paths] == ["0001.wav", "0002.wav"]
    audio = [check_wav(p, 0.4, 4.0) for p in result.paths]
    alone = infer(config("text=Another one here.", f"output={tmp_path / 'alone.wav'}"))
    assert np.array_equal(sf.read(alone.paths[0], dtype="float32")[0], audio[1])  # batch_size=1
    manifest = (tmp_path / "out" / "manifest.tsv").read_text(encoding="utf-8").splitlines()
    assert [row.split("\t")[:2] for row in manifest[1:]] == [
        ["0001", "0001.wav"],
        ["0002", "0002.wav"],
    ]
    mtimes = [p.stat().st_mtime_ns for p in result.paths]
    again = infer(cfg)  # a rerun skips the finished lines
    assert again.paths == result.paths and [p.stat().st_mtime_ns for p in again.paths] == mtimes


def test_pipeline_equals_model_level_output():
    """The pipeline adds nothing: same phonemes -> the same audio as a direct model call."""
    from kokoro_lab.model import load_model
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.text import model_input_ids

    model = load_model()
    voice = load_voice("jf_alpha")
    result = Pipeline(model, voice, seed=3)(text="Rice is often served in round bowls.")
    (chunk,) = result.chunks
    ids = model_input_ids(chunk.phonemes)
    with torch.inference_mode():
        direct = model(
            torch.tensor([ids]),
            voice.select(len(ids) - 2),
            generator=torch.Generator().manual_seed(3),
        ).audio[0]
    assert torch.equal(result.audio, direct)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["text=''"], "empty"),
        (["text='   '"], "empty"),
        (["text='...'"], "speakable"),
        (["text=hi", "speed=0"], "speed"),
        (["text=hi", "speed=4.5"], "speed"),
        (["text=hi", "output=/nonexistent_dir/x.wav"], "does not exist"),
        (["text=hi", "phonemes='hɪ'"], "exactly one"),
    ],
)
def test_bad_input_is_refused_clearly(overrides, message, tmp_path):
    with pytest.raises((ValueError, FileNotFoundError, PermissionError), match=message):
        cfg = (
            config(*overrides, f"output={tmp_path / 'x.wav'}")
            if not any(o.startswith("output=") for o in overrides)
            else config(*overrides)
        )
        infer(cfg)
    assert not (tmp_path / "x.wav").exists()


def test_non_utf8_text_file(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Café crème".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        infer(config(f"text_file={bad}", f"output={tmp_path / 'x.wav'}"))


@pytest.mark.parametrize("kind", ["shape", "nan"])
def test_bad_voicepack_file(kind, tmp_path):
    pack = torch.zeros(10, 1, 256) if kind == "shape" else torch.full((510, 1, 256), float("nan"))
    torch.save(pack, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="510, 1, 256" if kind == "shape" else "NaN"):
        infer(
            config("text=hi", f"voice_path={tmp_path / 'bad.pt'}", f"output={tmp_path / 'x.wav'}")
        )
    assert not (tmp_path / "x.wav").exists()


def test_read_only_location_is_refused_without_partial_file():
    # /proc refuses new files even for root, so this runs the same in CI.
    with pytest.raises(PermissionError, match="cannot write|not writable"):
        from kokoro_lab.audio.io import write_wav

        write_wav("/proc/kokoro_lab_test.wav", np.zeros(2400, dtype=np.float32))
    assert not os.path.exists("/proc/kokoro_lab_test.wav")


@pytest.mark.slow
def test_long_text_streams_in_bounded_chunks():
    """100,000 characters: chunks come lazily (first audio after one chunk), none over 510."""
    from kokoro_lab.model import load_model
    from kokoro_lab.pipeline import Pipeline

    sentence = "The quick brown fox jumps over the lazy dog, and then it rests by the river. "
    text = sentence * (100_000 // len(sentence) + 1)
    stream = Pipeline(load_model(), load_voice("jf_alpha")).stream(text=text[:100_000])
    for _ in range(2):
        chunk = next(stream)
        assert 0 < len(chunk.phonemes) <= 510 and len(chunk.tokens) <= 512
        assert chunk.audio.shape[-1] > 24000
    stream.close()


@pytest.mark.slow
def test_timestamps_json(tmp_path):
    import json

    out = tmp_path / "t.wav"
    infer(config("text=Hello world.", f"output={out}", "timestamps=true"))
    data = json.loads(out.with_suffix(".json").read_text())
    words = data["words"]
    assert [w["word"] for w in words] == ["Hello", "world."]  # the default voice: espeak-ipa
    infer(config("text=Hello world.", f"output={out}", "timestamps=true", "g2p=misaki"))
    misaki_words = json.loads(out.with_suffix(".json").read_text())["words"]
    assert [w["word"] for w in misaki_words] == ["Hello", "world"]  # misaki's word tokens
    times = [t for w in words for t in (w["start"], w["end"])]
    assert times == sorted(times) and words[0]["end"] <= words[1]["start"]
    assert 0 < words[-1]["end"] <= data["duration"]


def test_unknown_voice_lists_known_ones(tmp_path):
    proc = run_script("infer.py", "+voice=nobody", "text=Hi", f"output={tmp_path / 'x.wav'}")
    assert proc.returncode != 0
    assert "nobody" in proc.stderr and "af_bella" in proc.stderr and "jf_alpha" in proc.stderr
    assert not (tmp_path / "x.wav").exists()
