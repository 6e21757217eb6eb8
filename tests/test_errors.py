"""User errors vs bugs at the entry points: bad input is one line and exit 2, a bug keeps its
traceback and exits 1 (kokoro_lab.errors, kokoro_lab.tasks.cli)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

from kokoro_lab.errors import UserError, UserFileError, UserValueError


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_user_errors_are_the_builtin_errors_they_refine():
    assert issubclass(UserValueError, ValueError) and issubclass(UserValueError, UserError)
    assert issubclass(UserFileError, FileNotFoundError)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "kokoro_lab", "phonemize", "text=Hi.", "lexicon=/no/such.tsv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: lexicon file") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("exc", ["ValueError", "FileNotFoundError", "RuntimeError"])
def test_a_bug_keeps_its_traceback_and_exits_1(exc, tmp_path):
    """A plain ValueError deep in a task is a bug, not bad input: Hydra prints the traceback."""
    proc = run(
        f"""
        import sys
        from kokoro_lab.tasks.cli import hydra_entry
        def broken(cfg):
            raise {exc}("internal invariant broken")
        sys.argv = ["x", "text=Hi.", "hydra.run.dir={tmp_path}"]
        hydra_entry("phonemize", broken)()
        """
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and f"{exc}: internal invariant broken" in proc.stderr
    assert "error: internal" not in proc.stderr
