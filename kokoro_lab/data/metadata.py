"""The one reader of LJSpeech-layout metadata, used by training data, voice fitting and evaluation.

Layout: `DIR/metadata.csv` and `DIR/wavs/ID.wav`. Rules:
- rows are `|`-separated, no header, no quoting (a `"` is text), UTF-8; rows that are empty or
  whitespace only are skipped and not reported; every field is stripped of surrounding spaces;
- `columns` names the fields by position, default `id|text|speaker`; fields beyond the named
  ones are ignored and missing trailing fields are empty. LJSpeech's own file is
  `id|raw text|normalized text`: read it with `columns=[id, text, normalized]` (or
  `[id, raw, text]`);
- the spoken text is a non-empty `normalized` field, else `text`; a `phonemes` field, when named
  and non-empty, is used as given instead of G2P;
- the speaker is the `speaker` field, or `default_speaker` when that is absent or empty;
- a row is bad, and reported as `BadRow(wav file, 1-based metadata row, reason)` instead of
  read, when its id is empty ("empty id"), it has neither text nor phonemes ("empty text"), or
  `wavs/ID.wav` is not a file ("missing file"). Callers decide what a bad row means: training and
  voice fitting skip and list it, evaluation refuses the set.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError

METADATA = "metadata.csv"
DEFAULT_COLUMNS = ("id", "text", "speaker")
DEFAULT_SPEAKER = "speaker"


@dataclass
class Row:
    """One metadata row: clip id, text (or phonemes), speaker name, the audio file and the
    row's 1-based line in metadata.csv."""

    id: str
    text: str
    speaker: str
    wav: Path
    phonemes: str | None = None
    line: int = 0


@dataclass
class BadRow:
    """A metadata row that was skipped: its audio file, its 1-based line and why."""

    file: str
    row: int
    reason: str


def read_metadata(
    data_dir: str | os.PathLike,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    metadata: str = METADATA,
    default_speaker: str = DEFAULT_SPEAKER,
) -> tuple[list[Row], list[BadRow]]:
    """`DIR/metadata.csv` -> rows whose wav exists, and the bad rows (rules: module docstring)."""
    data_dir = Path(data_dir)
    path = data_dir / metadata
    columns = list(columns)
    if not path.is_file():
        raise UserFileError(
            f"no {metadata} in {str(data_dir)!r}: the folder holds metadata.csv (rows "
            f"`{'|'.join(columns)}`) and wavs/ID.wav"
        )
    if "id" not in columns or not ({"text", "phonemes"} & set(columns)):
        raise UserValueError(f"columns={columns} must name `id` and `text` (or `phonemes`)")
    rows, bad = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for n, fields in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), 1):
            if not fields or not "".join(fields).strip():
                continue
            named = dict(zip(columns, (x.strip() for x in fields)))
            clip_id = named.get("id", "")
            text = named.get("normalized") or named.get("text", "")
            phonemes = named.get("phonemes") or None
            wav = data_dir / "wavs" / f"{clip_id}.wav"
            if not clip_id:
                bad.append(BadRow(str(wav), n, "empty id"))
            elif not text and not phonemes:
                bad.append(BadRow(str(wav), n, "empty text"))
            elif not wav.is_file():
                bad.append(BadRow(str(wav), n, "missing file"))
            else:
                speaker = named.get("speaker") or default_speaker
                rows.append(Row(clip_id, text, speaker, wav, phonemes, line=n))
    return rows, bad
