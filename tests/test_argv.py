"""Free-text arguments (kokoro_lab.tasks.argv): verbatim for the user, exact through Hydra's real
override parser and OmegaConf, unchanged by a re-run of sys.argv (Lightning's DDP launcher), and
end to end through scripts/infer.py and `python -m kokoro_lab`."""

from __future__ import annotations

import io
import json
import random
import subprocess
import textwrap
from functools import partial

import numpy as np
import pytest
import soundfile as sf
from conftest import compose_config, run_python, run_script
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote, QuotedString
from omegaconf import OmegaConf

from kokoro_lab.tasks.argv import (
    escape_interpolation,
    quote,
    read_value,
    rewrite_free_text,
    unwrap,
)

KEYS = ("text", "phonemes")
SEED_SENTENCE = (
    "How could I know? It's an unanswerable question. "
    "Like trying to ask a toddler what it's like to be a baby."
)
EVERY_SYMBOL = (
    'Tom\'s "big" day, at last? Yes! Note: a; (b) [c] {d} x=y $5 50% #1 @home 2*3 a/b C:\\dir '
    "${HOME} — café, naïve, 東京."
)
#: Values a shell may pass that must arrive exactly as typed.
VERBATIM = [
    "Hello there, how are you?",
    SEED_SENTENCE,
    EVERY_SYMBOL,
    *",'\"?!:;()[]{}=$%#@*/\\",
    "It's",
    'say "hi"',
    "'unbalanced",
    "ends with a quote'",
    "'it's'",  # starts and ends with ' but is not one quoted string
    '"Hi," she said, "bye."',
    "'a\\'",  # an escaped closing quote: not one quoted string
    "line one\nline two\n",
    "  leading and trailing spaces  ",
    "\ttab",
    "null",
    "NULL",
    "123",
    "1.5e3",
    "true",
    "${x}",
    "${oc.env:HOME}",
    "\\${x}",
    "\\\\${x}",
    "$${x}",
    "a\\b\\",
    "\\",
    "\\'",
    "[1, 2]",
    "{a: 1}",
    "a,b,c",
    "choice(a,b)",
    "~tilde",
    "Café au lait — 東京 😀",
    "",
]
#: Values wrapped whole in one pair of quotes: Hydra's quoted-string reading, never interpolated.
WRAPPED = [
    ("'Café au lait.'", "Café au lait."),
    ('"It\'s"', "It's"),
    ("'It\\'s'", "It's"),
    ('"say \\"hi\\""', 'say "hi"'),
    ("'-'", "-"),
    ("''", ""),
    ("'${x}'", "${x}"),
    ("'\\${x}'", "${x}"),
    ("'a\\\\'", "a\\"),
    ("'a\\b'", "a\\b"),
    ("' spaced '", " spaced "),
]


def hydra_value(arg: str) -> object:
    """What Hydra's override parser and then OmegaConf make of one `key=value` argument."""
    value = OverridesParser.create().parse_override(arg).value()
    return OmegaConf.create({"v": value}).v


compose_infer = partial(compose_config, "infer")


# Pure functions -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", VERBATIM)
def test_verbatim_value_round_trips_through_hydra(text):
    (arg,) = rewrite_free_text([f"text={text}"], KEYS)
    assert arg == f"text={quote(text)}"
    assert hydra_value(arg) == text
    assert rewrite_free_text([arg], KEYS) == [arg]  # idempotent: a re-run reads the same
    assert read_value(quote(text)) == text


@pytest.mark.parametrize(("value", "text"), WRAPPED)
def test_wrapped_value_loses_its_quotes(value, text):
    (arg,) = rewrite_free_text([f"phonemes={value}"], KEYS)
    assert hydra_value(arg) == text
    assert rewrite_free_text([arg], KEYS) == [arg]


def test_quote_is_hydras_own_quoting_after_omegaconf_escaping():
    for text in VERBATIM:
        expected = QuotedString(text=escape_interpolation(text), quote=Quote.single)
        assert quote(text) == expected.with_quotes()


def test_random_strings_round_trip_and_unwrap_agrees_with_hydra():
    """2000 random strings over the characters that matter to Hydra and OmegaConf."""
    parser = OverridesParser.create()
    rng = random.Random(0)
    alphabet = list("a'\"\\${}, \n:=()[]é")
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert hydra_value(f"text={quote(text)}") == text
        assert read_value(quote(text)) == text
        for qc in "'\"":  # unwrap accepts exactly what Hydra lexes as one quoted string
            value = qc + text + qc
            try:
                parsed = parser.parse_override(f"text={value}")._value
            except Exception:  # Hydra's grammar error: not one quoted string
                parsed = None
            content = unwrap(value)
            if content is None:
                assert not isinstance(parsed, QuotedString), value
            else:
                assert isinstance(parsed, QuotedString) and parsed.text == content, value


def test_real_compose_gives_every_value_exactly():
    for value, text in [*((t, t) for t in VERBATIM), *WRAPPED]:
        args = rewrite_free_text([f"text={value}", f"phonemes=<{text}>", "speed=1.5"], KEYS)
        cfg = compose_infer(*args)
        assert cfg.text == text and isinstance(cfg.text, str)
        assert cfg.phonemes == f"<{text}>"
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert resolved["text"] == text and resolved["speed"] == 1.5


def test_prefixes_and_other_arguments():
    args = [
        "+voice=jf_alpha",
        "++text=a, b",
        "speed=1.5",
        "lang=en-us",
        "hydra.run.dir=out",
        "--cfg",
        "job",
        "text_file=x.txt",
        "+foo=1,2",
    ]
    out = rewrite_free_text(args, KEYS)
    assert out == [args[0], "++text='a, b'", *args[2:]]
    cfg = compose_infer("+voice=jf_alpha", "++text='a, b'")
    assert cfg.text == "a, b" and cfg.voice.name == "jf_alpha"
    (arg,) = rewrite_free_text(["+text=It's"], ("text",))
    assert arg == "+text='It\\'s'"
    assert rewrite_free_text(["text=a,b"], ()) == ["text=a,b"]  # no free-text keys: untouched


class FakeTTY(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_stdin_is_read_once_and_inlined():
    piped = io.BytesIO(EVERY_SYMBOL.encode() + b"\nsecond line\n")
    out = rewrite_free_text(["text=-", "speed=2"], KEYS, stdin=piped)
    assert hydra_value(out[0]) == EVERY_SYMBOL + "\nsecond line\n"
    assert rewrite_free_text(out, KEYS, stdin=io.BytesIO(b"")) == out  # a re-run reads no stdin
    (arg,) = rewrite_free_text(["text='-'"], KEYS, stdin=FakeTTY())  # a quoted dash is a dash
    assert hydra_value(arg) == "-"
    text_stream = io.StringIO("from a text stream")
    assert hydra_value(rewrite_free_text(["++phonemes=-"], KEYS, stdin=text_stream)[0]) == (
        "from a text stream"
    )


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (FakeTTY(b"x"), r"text=- reads standard input, but it is a terminal: pipe text in"),
        (io.BytesIO(b""), r"text=- read nothing from standard input"),
        (io.BytesIO(b"caf\xe9"), r"not valid UTF-8 \(byte 3"),
        (io.BytesIO(b"a\0b"), r"NUL character"),
    ],
)
def test_bad_stdin_is_refused_clearly(stream, message):
    with pytest.raises(ValueError, match=message):
        rewrite_free_text(["text=-"], KEYS, stdin=stream)


def test_two_stdin_arguments_and_undecodable_argv_are_refused():
    with pytest.raises(ValueError, match=r"text=- and phonemes=- both read standard input"):
        rewrite_free_text(["text=-", "phonemes=-"], KEYS, stdin=io.BytesIO(b"x"))
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")  # how Python passes such argv
    with pytest.raises(ValueError, match=r"text= is not valid UTF-8"):
        rewrite_free_text([f"text={undecodable}"], KEYS)


# A re-run of sys.argv, as Lightning's DDP launcher does it ---------------------------------------

ECHO_SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from kokoro_lab.tasks.cli import hydra_entry

    def echo(cfg):
        seen = {"text": cfg.text, "phonemes": cfg.phonemes, "speed": cfg.speed}
        if "ECHO_RANK" not in os.environ:  # rank 0 starts rank 1 exactly as Lightning does
            from lightning.fabric.strategies.launchers.subprocess_script import (
                _hydra_subprocess_cmd,
            )
            command, cwd = _hydra_subprocess_cmd(local_rank=1)
            child = subprocess.run(
                command, cwd=cwd, env={**os.environ, "ECHO_RANK": "1"},
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )
            assert child.returncode == 0, child.stderr
            seen["child"] = json.loads(child.stdout.splitlines()[-1])
            seen["command"] = command
        return seen

    main = hydra_entry("infer", echo, free_text=("text", "phonemes"),
                       on_result=lambda seen: print(json.dumps(seen)))
    if __name__ == "__main__":
        if sys.argv[1:2] == ["echo"]:  # dispatched as `python -m kokoro_lab echo ...` does
            main(sys.argv[2:], relaunch_prefix=["echo"])
        else:
            main()
    """
)


def seen_arg(arg: str) -> str:
    return rewrite_free_text([arg], KEYS)[0]


@pytest.mark.slow
@pytest.mark.parametrize("dispatched", [False, True], ids=["script", "command"])
def test_rerun_of_argv_gives_the_same_values(dispatched, tmp_path):
    script = tmp_path / "echo.py"
    script.write_text(ECHO_SCRIPT)
    stdin_text = EVERY_SYMBOL + "\n  two spaces, 'quotes' and a tab\t\n"
    args = [f"text={SEED_SENTENCE} ${{x}} null", "phonemes=-", "speed=1.5"]
    proc = run_python(
        str(script), *(["echo"] if dispatched else []), *args, cwd=tmp_path, stdin=stdin_text
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    expected = {"text": f"{SEED_SENTENCE} ${{x}} null", "phonemes": stdin_text, "speed": 1.5}
    assert {k: seen[k] for k in expected} == expected
    assert seen["child"] == expected
    command = seen["command"][2:]  # after python and the script
    assert command[: 1 + dispatched] == [*(["echo"] if dispatched else []), seen_arg(args[0])]
    assert "phonemes=-" not in command  # standard input travels inlined


# End to end: the real model --------------------------------------------------------------------


def check_spoken(proc: subprocess.CompletedProcess, wav) -> tuple[list[str], np.ndarray]:
    """The phoneme lines a successful run printed, and its audio (24 kHz, not silent)."""
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"wrote {wav}"
    phonemes = lines[:-1]
    assert phonemes and all(p.strip() for p in phonemes)
    audio, sr = sf.read(wav, dtype="float32")
    assert sr == 24000 and len(audio) > sr // 2 and np.sqrt(np.mean(audio**2)) > 0.01
    return phonemes, audio


@pytest.mark.slow
@pytest.mark.parametrize("text", [SEED_SENTENCE, EVERY_SYMBOL], ids=["seed", "every_symbol"])
def test_infer_script_speaks_free_text(text, tmp_path):
    wav = tmp_path / "out.wav"
    check_spoken(run_script("infer.py", f"text={text}", f"output={wav}"), wav)


@pytest.mark.slow
def test_infer_script_reads_stdin_like_the_same_argument(tmp_path):
    text = "Hello there, how are you?"
    a, b = tmp_path / "arg.wav", tmp_path / "stdin.wav"
    phonemes_a, audio_a = check_spoken(run_script("infer.py", f"text={text}", f"output={a}"), a)
    proc = run_script("infer.py", "text=-", f"output={b}", stdin=text)
    phonemes_b, audio_b = check_spoken(proc, b)
    assert phonemes_a == phonemes_b
    np.testing.assert_allclose(audio_a, audio_b, atol=1e-4)
    proc = run_script("infer.py", "text=-", f"output={b}", stdin="")
    assert proc.returncode == 2 and "read nothing from standard input" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_python_m_kokoro_lab_infer(tmp_path):
    wav = tmp_path / "m.wav"
    proc = run_python("-m", "kokoro_lab", "infer", "text=It's fine, isn't it?", f"output={wav}")
    check_spoken(proc, wav)


@pytest.mark.slow
def test_python_m_kokoro_lab_voices(tmp_path):
    from kokoro_lab.voices import load_voice

    voices = tmp_path / "voices"
    voices.mkdir()
    load_voice("jf_alpha").save(voices / "af_bella.pt")
    cache = tmp_path / "hf-cache"  # a Hugging Face cache holding af_heart only
    repo = cache / "models--hexgrad--Kokoro-82M"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40) / "voices"
    snapshot.mkdir(parents=True)
    load_voice("jm_kumo").save(snapshot / "af_heart.pt")
    proc = run_python(
        "-m", "kokoro_lab", "voices", f"voices_dir={voices}", env={"HF_HUB_CACHE": str(cache)}
    )
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
    assert rows["jf_alpha"] == ["ja", "embedded"]
    assert rows["af_bella"] == ["en-us", "voices_dir"]
    assert rows["af_heart"] == ["en-us", "hub-cache"]
    assert rows["bf_emma"] == ["en-gb", "hub"]
    assert rows["af"][:2] == ["en-us", "hub"]  # af_bella (voices_dir) + af_sarah (hub)
    proc = run_python("-m", "kokoro_lab", "nope")
    assert proc.returncode == 2 and "unknown command 'nope'" in proc.stderr
