"""What a corpus says: input files -> `Utterance`s (one WAV each) and `BadRow`s (kept out).

Three inputs, one shape:
- a text file (or a phoneme file) x `voices`: non-empty line k (blank lines are skipped and take
  no number) spoken by each voice is `VOICE/{k:04d}.wav` (a folder per voice, even for one; the
  flat `{k:04d}.wav` of `scripts/infer.py lines=true` with `voice_folders=False`);
- a manifest: pipe-separated, a header row naming its columns (`id|text|voice|speed|lang`, in
  any order; `id` and `text` required, the others default to the run's keys), one row per WAV
  `ID.wav`. A row that cannot be spoken (unknown voice, empty text, bad speed, a repeated or
  unsafe id, a wrong number of fields) becomes a BadRow with its line number in the file; the
  other rows still run.
A voice is a spec: a catalogue name, a voicepack path, or a mix (`jf_alpha:0.7+jm_kumo:0.3`,
kokoro_lab.voice_mix).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from kokoro_lab.errors import UserError, UserValueError
from kokoro_lab.io import read_text_file
from kokoro_lab.pipeline import check_speed

MANIFEST_COLUMNS = ("id", "text", "voice", "speed", "lang")
REQUIRED_COLUMNS = ("id", "text")
SEPARATOR = "|"
#: An id becomes a file name: letters, digits and . _ - only, not starting with a dot.
SAFE_ID = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Utterance:
    """One WAV to render: where it came from (`line`, 1-based, in the input file), its `id`,
    what is said (`content`: text, or IPA when `phonemes`), by which voice spec, at which speed,
    in which language (None: the voice's), and the WAV path relative to the output folder."""

    line: int
    id: str
    content: str
    phonemes: bool
    voice: str
    speed: float
    lang: str | None
    wav: str


@dataclass(frozen=True)
class BadRow:
    """An input row kept out of the run: its line number in the file, its id and why."""

    line: int
    id: str
    reason: str


def voice_folder(spec: str) -> str:
    """The folder a voice spec's WAVs go to: a voicepack path's file stem, else the spec."""
    looks_like_path = spec.endswith((".pt", ".pth", ".npz")) or "/" in spec
    return Path(spec).stem if looks_like_path else spec


def lines_corpus(
    path: str | os.PathLike,
    voices: list[str],
    *,
    phonemes: bool = False,
    speed: float = 1.0,
    lang: str | None = None,
    voice_folders: bool = True,
) -> list[Utterance]:
    """Every non-empty line of a text (or phoneme) file x every voice spec, voice-major."""
    content = read_text_file(path)
    kept = [line.strip() for line in content.splitlines() if line.strip()]
    if not kept:
        raise UserValueError(f"{os.fspath(path)!r} has no non-empty line to synthesize")
    speed = check_speed(speed)
    folders = [voice_folder(v) for v in voices]
    if len(set(folders)) != len(folders):
        raise UserValueError(f"voices={voices} name the same folder twice: list each voice once")
    return [
        Utterance(
            line=k,
            id=f"{k:04d}",
            content=text,
            phonemes=phonemes,
            voice=voice,
            speed=speed,
            lang=lang,
            wav=f"{folder}/{k:04d}.wav" if voice_folders else f"{k:04d}.wav",
        )
        for voice, folder in zip(voices, folders)
        for k, text in enumerate(kept, 1)
    ]


def _header(path: str | os.PathLike, fields: list[str]) -> list[str]:
    columns = [f.strip().lower() for f in fields]
    unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise UserValueError(
            f"manifest {os.fspath(path)!r}: header {SEPARATOR.join(fields)!r} must name each of "
            f"{', '.join(REQUIRED_COLUMNS)} once and may add {', '.join(MANIFEST_COLUMNS[2:])}, "
            f"separated by '{SEPARATOR}' (e.g. id|text|voice)"
        )
    return columns


def _row(
    number: int, values: dict[str, str], seen: set[str], default_voice: str, speed: float, lang
) -> Utterance:
    """One manifest row -> Utterance, or UserValueError saying what is wrong with it."""
    uid = values["id"]
    if not SAFE_ID.fullmatch(uid):
        raise UserValueError(
            f"id {uid!r} is not usable as a file name (letters, digits, . _ - only)"
        )
    if uid in seen:
        raise UserValueError(f"id {uid!r} is repeated: ids name the WAVs and must be unique")
    text = values["text"].strip()
    if not text:
        raise UserValueError("text is empty")
    row_speed = speed
    if values.get("speed", "").strip():
        try:
            row_speed = float(values["speed"])
        except ValueError:
            raise UserValueError(f"speed {values['speed']!r} is not a number") from None
    return Utterance(
        line=number,
        id=uid,
        content=text,
        phonemes=False,
        voice=values.get("voice", "").strip() or default_voice,
        speed=check_speed(row_speed),
        lang=values.get("lang", "").strip() or lang,
        wav=f"{uid}.wav",
    )


def manifest_corpus(
    path: str | os.PathLike, default_voice: str, *, speed: float = 1.0, lang: str | None = None
) -> tuple[list[Utterance], list[BadRow]]:
    """A header-named, pipe-separated manifest -> (the rows to render, the rows kept out).
    Voices are checked later, when they load (`kokoro_lab.synthesis.voices`)."""
    numbered = [
        (n, line) for n, line in enumerate(read_text_file(path).splitlines(), 1) if line.strip()
    ]
    if not numbered:
        raise UserValueError(f"manifest {os.fspath(path)!r} is empty: give a header and rows")
    columns = _header(path, numbered[0][1].split(SEPARATOR))
    good, bad, seen = [], [], set()
    for number, line in numbered[1:]:
        fields = line.split(SEPARATOR)
        uid = fields[0].strip() if "id" == columns[0] else ""
        if len(fields) != len(columns):
            reason = f"{len(fields)} fields where the header names {len(columns)}"
            bad.append(BadRow(number, uid, reason))
            continue
        values = {c: f.strip() for c, f in zip(columns, fields)}
        try:
            utterance = _row(number, values, seen, default_voice, speed, lang)
        except UserError as err:
            bad.append(BadRow(number, values["id"], str(err)))
            continue
        seen.add(utterance.id)
        good.append(utterance)
    return good, bad
