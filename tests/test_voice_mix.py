"""Voice mixes (kokoro_lab.voice_mix) on the real embedded voicepacks, and `voice_mix=` in infer."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import compose_config

from kokoro_lab.tasks.infer import infer, resolve_voice
from kokoro_lab.voice_mix import load_voice_mix, parse_voice_mix
from kokoro_lab.voices import load_voice

config = partial(compose_config, "infer")


# Parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("jf_alpha:0.7+jm_kumo:0.3", [("jf_alpha", 0.7), ("jm_kumo", 0.3)]),
        ("jf_alpha(2)+jm_kumo(1)", [("jf_alpha", 2 / 3), ("jm_kumo", 1 / 3)]),  # Kokoro-FastAPI
        ("jf_alpha", [("jf_alpha", 1.0)]),
        ("jf_alpha(5)", [("jf_alpha", 1.0)]),
        ("jf_alpha+jm_kumo", [("jf_alpha", 0.5), ("jm_kumo", 0.5)]),
        (
            " jf_alpha : 3 + jm_kumo (1) + jf_nezumi ",
            [("jf_alpha", 0.6), ("jm_kumo", 0.2), ("jf_nezumi", 0.2)],
        ),
        ("af_bella:1e-3+af_sky:1e-3", [("af_bella", 0.5), ("af_sky", 0.5)]),  # catalogue names
    ],
)
def test_parse_normalizes_weights(spec, expected):
    parsed = parse_voice_mix(spec)
    assert [name for name, _ in parsed] == [name for name, _ in expected]
    assert [w for _, w in parsed] == pytest.approx([w for _, w in expected])
    assert sum(w for _, w in parsed) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", r"voice_mix is empty"),
        ("  ", r"voice_mix is empty"),
        ("+jf_alpha", r"component 1 is empty"),
        ("jf_alpha++jm_kumo", r"component 2 is empty"),
        ("jf_alpha+", r"component 2 is empty"),
        ("jf_alpha:0+jm_kumo:1", r"component 1 'jf_alpha:0' has weight '0'.*positive number"),
        ("jf_alpha:-1", r"'jf_alpha:-1' has weight '-1'"),
        ("jf_alpha(0)+jm_kumo(1)", r"'jf_alpha\(0\)' has weight '0'"),
        ("jf_alpha:abc", r"has weight 'abc'"),
        ("jf_alpha:", r"has weight ''"),
        ("jf_alpha()", r"has weight ''"),
        ("jf_alpha:inf", r"has weight 'inf'"),
        ("jf_alpha:nan", r"has weight 'nan'"),
        (":0.5", r"has no voice name"),
        ("af_nobody:1+jf_alpha:1", r"component 1 'af_nobody' is not a known voice.*jf_alpha"),
        ("jf_alpha-jm_kumo", r"subtracting a voice .* is not supported"),
        ("jf_alpha,jm_kumo", r"join components with '\+'"),
        ("jf_alpha(2+jm_kumo", r"NAME\(WEIGHT\) with both parentheses"),
    ],
)
def test_bad_specs_name_the_component_and_the_fix(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_voice_mix(spec)
    assert "e.g. jf_alpha:0.7+jm_kumo:0.3" in str(err.value) or "no voice name" in str(err.value)


@pytest.mark.parametrize(
    "component", ["/tmp/x.pt", "voices/jf_alpha", "../jf_alpha", "x.pt", "~/v", "a\\b", "y.npz"]
)
def test_paths_are_refused_when_not_allowed(component, tmp_path, alpha):
    alpha.save(tmp_path / "x.pt")  # even an existing file
    with pytest.raises(ValueError, match=r"looks like a file path.*catalogue voice names"):
        parse_voice_mix(f"jf_alpha:1+{component}:1", allow_paths=False)


def test_paths_and_voices_dir_names_when_allowed(tmp_path, alpha, kumo):
    alpha.save(tmp_path / "mine.pt")
    path = tmp_path / "other.pt"
    kumo.save(path)
    spec = f"mine:3+{path}:1"
    assert parse_voice_mix(spec, voices_dir=tmp_path) == [("mine", 0.75), (str(path), 0.25)]
    with pytest.raises(ValueError, match=r"'mine' is not a known voice"):
        parse_voice_mix(spec, allow_paths=False, voices_dir=tmp_path)  # catalogue names only
    with pytest.raises(ValueError, match=r"'mine' is not a known voice.*voices_dir"):
        parse_voice_mix(spec)  # no voices_dir
    with pytest.raises(FileNotFoundError, match=r"voicepack file .*missing.pt.* does not exist"):
        parse_voice_mix(f"jf_alpha+{tmp_path / 'missing.pt'}")
    mix = load_voice_mix(spec, voices_dir=tmp_path)
    torch.testing.assert_close(mix.pack, 0.75 * alpha.pack + 0.25 * kumo.pack)
    assert mix.lang is None  # a file has no catalogue language


# Blending ---------------------------------------------------------------------------------------


def test_mix_is_the_weighted_sum_of_the_real_voicepacks(alpha, kumo):
    mix = load_voice_mix("jf_alpha:0.7+jm_kumo:0.3")
    assert mix.pack.shape == (510, 1, 256) and mix.lang == "ja"
    torch.testing.assert_close(mix.pack, 0.7 * alpha.pack + 0.3 * kumo.pack)
    fastapi = load_voice_mix("jf_alpha(7)+jm_kumo(3)")
    torch.testing.assert_close(fastapi.pack, mix.pack)
    equal = load_voice_mix("jf_alpha(2)+jm_kumo(2)")  # equal weights: the official mean, exactly
    assert torch.equal(equal.pack, torch.mean(torch.stack([alpha.pack, kumo.pack]), dim=0))
    assert torch.equal(load_voice_mix("jf_alpha").pack, alpha.pack)


def test_mix_of_bella_and_sarah_is_v019_af(no_hub, alpha, kumo, tmp_path):
    alpha.save(tmp_path / "af_bella.pt")  # stand-ins under the hub names
    kumo.save(tmp_path / "af_sarah.pt")
    af = load_voice("af", voices_dir=tmp_path)
    mix = load_voice_mix("af_bella(1)+af_sarah(1)", voices_dir=tmp_path, allow_paths=False)
    assert torch.equal(mix.pack, af.pack)


# infer ------------------------------------------------------------------------------------------


def test_resolve_voice_with_a_mix(alpha, kumo):
    voice, lang = resolve_voice(config("voice_mix=jf_alpha:0.7+jm_kumo:0.3"))
    torch.testing.assert_close(voice.pack, 0.7 * alpha.pack + 0.3 * kumo.pack)
    assert lang == "ja"  # the first voice's catalogue language
    assert resolve_voice(config("voice_mix=jm_kumo+jf_alpha", "lang=en-gb"))[1] == "en-gb"
    with pytest.raises(ValueError, match=r"voice_mix=jf_alpha\+jm_kumo and \+voice= both"):
        resolve_voice(config("voice_mix=jf_alpha+jm_kumo", "+voice=jf_alpha"))
    with pytest.raises(ValueError, match=r"and voice_path=x.pt both choose the voice"):
        resolve_voice(config("voice_mix=jf_alpha+jm_kumo", "voice_path=x.pt"))


@pytest.mark.slow
def test_infer_with_voice_mix_writes_a_wav(tmp_path):
    out = tmp_path / "mix.wav"
    result = infer(
        config("text=Hello there.", "voice_mix=jf_alpha:0.7+jm_kumo:0.3", f"output={out}")
    )
    assert result.paths == [out]
    audio, sr = sf.read(out, dtype="float32")
    assert sr == 24000 and 0.4 < len(audio) / sr < 3.0 and np.sqrt(np.mean(audio**2)) > 0.01


def test_fastapi_spelling_passes_the_infer_command_line(alpha, kumo):
    """`voice_mix=jf_alpha(2)+jm_kumo(1)` is free text for scripts/infer.py: Hydra alone would
    read `jf_alpha(2)` as a function call and fail."""
    from kokoro_lab.tasks.argv import rewrite_free_text
    from kokoro_lab.tasks.entries import entry

    free_text = entry("infer").free_text
    voice, _ = resolve_voice(
        config(*rewrite_free_text(["voice_mix=jf_alpha(2)+jm_kumo(1)"], free_text))
    )
    torch.testing.assert_close(voice.pack, 2 / 3 * alpha.pack + 1 / 3 * kumo.pack)
