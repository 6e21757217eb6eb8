"""Shared fixtures and helpers. Real weights, real espeak-ng, real files: nothing here is mocked.

Tiers:
- `pytest -m "not slow"`: the edit-test loop, under 5 minutes on a quiet 2-core CPU. Unit,
  parity and task tests on the shared real-weights fixtures below.
- `pytest` (`scripts/test.sh`, CI): everything.
Mark a test `@pytest.mark.slow` when it needs more than about 10 s of its own on that CPU: it
trains, fits a voice, synthesizes through a script in a subprocess, runs Whisper over many
sentences, synthesizes long texts or executes a notebook. Quick subprocess checks (a script
refusing bad arguments) stay in the fast tier. `pytest -m "not slow" --durations=30` shows
what to mark next.

Every test starts with no `HF_*` or `TRANSFORMERS_*` variable set, child processes included
(a test sets the ones it needs with monkeypatch), and a test that changes torch's thread count
is named in a ThreadCountChanged warning (the count is restored after it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/reference_kokoro.py

HARVARD = ROOT.parent / "shared" / "data" / "harvard_sentences_lists_01-36.txt"

# --- the environment ------------------------------------------------------------------------

#: Variables that steer huggingface_hub and transformers (offline mode, caches, endpoint, token).
HUB_ENV_PREFIXES = ("HF_", "TRANSFORMERS_")


def _hub_variables() -> list[str]:
    return [key for key in os.environ if key.startswith(HUB_ENV_PREFIXES)]


def pytest_configure(config):
    # Before the test modules are imported: huggingface_hub.constants reads them at import.
    for key in _hub_variables():
        del os.environ[key]


@pytest.fixture(autouse=True)
def _no_hub_variables(monkeypatch):
    """The suite passes whatever HF_* / TRANSFORMERS_* the caller exported; a test that needs
    one sets it itself (monkeypatch.setenv runs after this fixture)."""
    for key in _hub_variables():
        monkeypatch.delenv(key)


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """Offline, with an empty Hugging Face cache (whatever this machine has cached)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))


# --- torch's thread count -------------------------------------------------------------------


class ThreadCountChanged(UserWarning):
    """Code under test left torch.set_num_threads changed (library code must restore it)."""


#: torch's thread count for every test: what the process started with.
THREADS = torch.get_num_threads()


def _check_threads(where: str) -> None:
    threads = torch.get_num_threads()
    if threads != THREADS:
        torch.set_num_threads(THREADS)
        warnings.warn(
            f"{where} changed torch's thread count from {THREADS} to {threads} (restored)",
            ThreadCountChanged,
            stacklevel=2,
        )


def pytest_collection_finish(session):
    _check_threads("importing the test modules")


@pytest.fixture(autouse=True)
def _thread_count(request):
    """Warns, naming the test, when torch's thread count changed; restores it either way.
    Module and session fixtures run before this one: a change there shows at test start."""
    _check_threads(f"a fixture set up for {request.node.nodeid} (or an earlier teardown)")
    yield
    _check_threads(request.node.nodeid)


# --- configs and scripts --------------------------------------------------------------------


def compose_config(name: str | None, *overrides: str):
    """configs/NAME.yaml (None: no primary config) composed by Hydra with command-line style
    overrides and validated against its schema, as a script would see it -> DictConfig (a
    bad key or value raises the UserError the script reports)."""
    from kokoro_lab.schemas import compose_config as compose

    return compose(name, overrides)


def offline_env(changes: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """os.environ for a child process with the hub and W&B offline, plus `changes` (None
    removes a variable)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    for key, value in (changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def script_command(script: str, *args: str) -> list[str]:
    """`python scripts/SCRIPT ARGS...` with this interpreter."""
    return [sys.executable, str(ROOT / "scripts" / script), *args]


def run_python(
    *args: str,
    env: Mapping[str, str | None] | None = None,
    cwd: Path = ROOT,
    stdin: str | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """`python ARGS...` in a child process (offline_env(env)), output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=offline_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_script(script: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """scripts/SCRIPT with ARGS as a child process: run_python's keywords and result."""
    return run_python(str(ROOT / "scripts" / script), *args, **kwargs)


# --- real weights and data ------------------------------------------------------------------


@pytest.fixture(scope="session")
def embedded_checkpoint() -> Path:
    from kokoro_lab.hub import embedded_checkpoint_path

    return embedded_checkpoint_path()


@pytest.fixture(scope="session")
def real_model(embedded_checkpoint):
    from kokoro_lab.checkpoint import load_into, read_checkpoint
    from kokoro_lab.model import KokoroModel

    model = KokoroModel().eval()
    load_into(model, read_checkpoint(embedded_checkpoint))
    return model


#: The training recipe's test dataset: 16 Harvard sentences spoken by the pretrained model.
SYNTHETIC = {"voice": "jf_alpha", "start": 0, "count": 16}


@pytest.fixture(scope="session")
def synthetic_data() -> Path:
    """SYNTHETIC rendered with the embedded weights (once per machine, in the kokoro_lab cache)."""
    from kokoro_lab.data.datamodule import synthetic_dir
    from kokoro_lab.data.synthetic import render_dataset

    return render_dataset(synthetic_dir(**SYNTHETIC), **SYNTHETIC)


# --- the embedded voices --------------------------------------------------------------------


@pytest.fixture(scope="module")
def alpha():
    """The embedded voice jf_alpha (kokoro_lab.voices.VoicePack)."""
    from kokoro_lab.voices import load_voice

    return load_voice("jf_alpha")


@pytest.fixture(scope="module")
def kumo():
    """The embedded voice jm_kumo (kokoro_lab.voices.VoicePack)."""
    from kokoro_lab.voices import load_voice

    return load_voice("jm_kumo")
