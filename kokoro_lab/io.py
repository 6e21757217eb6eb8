"""Atomic file writes, hashing and reading user text files: outputs appear whole or not at all;
packaged model files are used only when they hash to the value they are known by."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserPermissionError, UserValueError

log = logging.getLogger(__name__)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class HashMismatch(UserValueError):
    """A file whose SHA-256 differs from the one it is known by: corrupt, edited or replaced."""


def verify_sha256(path: str | os.PathLike, expected: str, fix: str) -> Path:
    """`path` when its SHA-256 is `expected`, else HashMismatch naming the file, both hashes and
    `fix` (what to do about it). A file is hashed once per process while its size and
    modification time stay the same."""
    path = Path(path).resolve()
    stat = path.stat()
    _verify_once(path, stat.st_size, stat.st_mtime_ns, expected, fix)
    return path


@functools.cache
def _verify_once(path: Path, size: int, mtime_ns: int, expected: str, fix: str) -> None:
    """Keyed on size and mtime so a replaced file is hashed again; a mismatch raises, and raising
    calls are not cached."""
    actual = sha256_file(path)
    if actual != expected:
        raise HashMismatch(
            f"{str(path)!r} has SHA-256 {actual}, expected {expected}: the file is corrupt or "
            f"not the one kokoro_lab was checked against; {fix}"
        )


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it into place.

    The parent directory must exist and be writable; otherwise a clear error is raised and no
    file (partial or temporary) is left behind.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserFileError(
            f"output directory {str(parent)!r} does not exist: create it or choose another path"
        )
    if not os.access(parent, os.W_OK):
        raise UserPermissionError(
            f"output directory {str(parent)!r} is not writable: choose a writable location"
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as err:
        raise UserPermissionError(
            f"cannot write in {str(parent)!r} ({err.strerror}): choose a writable location"
        ) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp made it 0600; give it the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def cached_build(path: Path, digest: Path, build: Callable[[], None], what: str) -> Path:
    """`path`, made by `build()` (which writes it atomically) unless a whole copy is there: its
    SHA-256 is kept in `digest` and re-checked on every call, so a truncated or edited file
    (`what`, for the log) is made anew."""
    if path.exists() and digest.exists():
        if sha256_file(path) == digest.read_text().strip():
            return path
        log.warning("cached %s %s failed its hash check; making it anew", what, path)
    build()
    atomic_write(digest, lambda tmp: tmp.write_text(sha256_file(path) + "\n"))
    return path


def read_text_file(path: str | os.PathLike) -> str:
    """A UTF-8 text file; a clear error for a missing or non-UTF-8 file."""
    path = Path(path)
    if not path.is_file():
        raise UserFileError(f"text file {str(path)!r} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserValueError(
            f"text file {str(path)!r} is not valid UTF-8 (byte {err.start}: {err.reason}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8`"
        ) from None
