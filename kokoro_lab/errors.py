"""User errors: input that is wrong, as opposed to bugs.

Raised at user-facing boundaries (configs, files, text, voices, checkpoints) with a message that
names the bad value and the fix. Entry points (`kokoro_lab.tasks.cli`) turn only these into one
`error: ...` line and exit code 2; anything else is a bug and keeps its traceback (exit 1).
Each subclass is also the built-in exception it refines, so `except ValueError` still catches it.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: the message says what was wrong and how to fix it."""


class UserValueError(UserError, ValueError):
    """A bad value: a key, a text, a file's contents, a voice name."""


class UserFileError(UserError, FileNotFoundError):
    """A file or folder the user named (or must provide) is missing."""


class UserPermissionError(UserError, PermissionError):
    """A path the user named cannot be written or read."""
