"""`python -m kokoro_lab COMMAND KEY=VALUE ...` (or `kokoro-lab COMMAND ...`): the scripts as one
command, installed with the package.

    python -m kokoro_lab infer text="Hello there, how are you?"
    python -m kokoro_lab voices [voices_dir=DIR]

`COMMAND` runs the entry point registered in `kokoro_lab.tasks.entries`, the one
`scripts/COMMAND.py` runs: same arguments, free-text keys and errors; `voices` lists the voice
catalogue.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.tasks import entries
from kokoro_lab.tasks.cli import user_errors

#: Where a voice is available, most local first (`voices` prints one per catalogue voice).
AVAILABILITY = ("embedded", "voices_dir", "hub-cache", "hub")
USAGE = f"""usage: python -m kokoro_lab COMMAND [KEY=VALUE ...]

commands: {", ".join(entries.COMMANDS)} (as scripts/COMMAND.py), voices [voices_dir=DIR]"""


def voice_availability(
    name: str, catalogue: dict[str, dict], voices_dir: str | os.PathLike | None
) -> str:
    """Where voice `name` loads from without a download, as one of AVAILABILITY: `embedded`
    (the offline bundle), `voices_dir` (NAME.pt there), `hub-cache` (the local Hugging Face
    cache) or `hub` (a download). A blend is as available as its least available part."""
    from huggingface_hub import try_to_load_from_cache

    from kokoro_lab.hub import REPO_ID

    entry = catalogue[name]
    if entry["source"] == "embedded":
        return "embedded"
    if entry["source"] == "blend":
        parts = [voice_availability(part, catalogue, voices_dir) for part in entry["blend"]]
        return max(parts, key=AVAILABILITY.index)
    filename = entry.get("filename") or f"voices/{name}.pt"
    if voices_dir is not None and (Path(voices_dir) / Path(filename).name).is_file():
        return "voices_dir"
    cached = try_to_load_from_cache(
        entry.get("repo_id") or REPO_ID, filename, revision=entry.get("revision")
    )
    return "hub-cache" if isinstance(cached, str) else "hub"


def list_voices(args: list[str]) -> None:
    """`voices [voices_dir=DIR]`: one line per catalogue voice: name, language, availability."""
    from kokoro_lab.voices import load_catalogue

    voices_dir = None
    for arg in args:
        key, _, value = arg.partition("=")
        if key != "voices_dir" or not value:
            raise UserValueError(f"voices takes only voices_dir=DIR, not {arg!r}")
        if not Path(value).is_dir():
            raise UserFileError(f"voices_dir {value!r} is not a directory")
        voices_dir = value
    catalogue = load_catalogue()
    for name in sorted(catalogue):
        entry = catalogue[name]
        where = voice_availability(name, catalogue, voices_dir)
        blend = f"  (blend of {'+'.join(entry['blend'])})" if entry["source"] == "blend" else ""
        print(f"{name:<16} {entry.get('lang') or '-':<8} {where}{blend}")


def main(argv: list[str] | None = None) -> None:
    """Dispatch `argv` (default `sys.argv[1:]`): COMMAND then its KEY=VALUE arguments."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        sys.exit(0 if argv else 2)
    command, args = argv[0], argv[1:]
    if command == "voices":
        with user_errors():
            list_voices(args)
        return
    with user_errors():
        if command not in entries.COMMANDS:
            known = ", ".join(entries.COMMANDS)
            raise UserValueError(f"unknown command {command!r}: choose one of {known} or voices")
        entry = entries.entry(command)
    # a DDP rank re-runs `python -m kokoro_lab.__main__ ARGV...`: the command name must stay in it
    entry(args, relaunch_prefix=(command,))


if __name__ == "__main__":
    main()
