"""Evaluation sets: what is said, numbered the way `scripts/infer.py lines=true` numbers WAVs.

Three sources, one shape (`EvalSet` of `EvalItem`s):
- the Harvard sentences shipped with the package (`harvard_set`), the default;
- a UTF-8 text file, one utterance per non-empty line (`text_file_set`): line k (blank lines
  skipped, not counted) is item k, whose audio in an `audio_dir` is `{k:04d}.wav`;
- an LJSpeech-layout folder with reference recordings (`ljspeech_set`): `metadata.csv` rows
  `id|text[|normalized text]` and `wavs/ID.wav`; the normalized column, when present, is what
  is spoken and scored (it spells numbers out); the rows are read by `kokoro_lab.data.metadata`.
Reference recordings are read by `kokoro_lab.audio.io.read_audio`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kokoro_lab.data.metadata import METADATA, read_metadata
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.evaluation.texts import HARVARD_FILE, harvard_sentences
from kokoro_lab.io import read_text_file

#: LJSpeech's own metadata columns; a non-empty `normalized` (numbers spelled out) is spoken.
LJSPEECH_COLUMNS = ("id", "text", "normalized")


@dataclass(frozen=True)
class EvalItem:
    """One utterance: its 1-based number (the NNNN of NNNN.wav), an id, the text, and the
    reference recording when the set has one."""

    index: int
    id: str
    text: str
    reference: Path | None = None

    @property
    def wav_name(self) -> str:
        return f"{self.index:04d}.wav"


@dataclass(frozen=True)
class EvalSet:
    """Utterances plus where they came from (recorded in metrics.json)."""

    name: str
    items: tuple[EvalItem, ...]
    source: dict = field(default_factory=dict)

    @property
    def has_references(self) -> bool:
        return any(item.reference is not None for item in self.items)

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    def __len__(self) -> int:
        return len(self.items)


def _digest(texts: list[str]) -> str:
    """SHA-256 of the texts joined by newlines: two runs with the same digest said the same."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _numbered(texts: list[str]) -> tuple[EvalItem, ...]:
    return tuple(EvalItem(i, f"{i:04d}", t) for i, t in enumerate(texts, 1))


def _limited(items: tuple[EvalItem, ...], limit: int | None) -> tuple[EvalItem, ...]:
    if limit is None:
        return items
    if limit < 1:
        raise UserValueError(f"limit={limit} must be a positive number of utterances (or null)")
    return items[:limit]


def harvard_set(count: int = 20, start: int = 0) -> EvalSet:
    """Harvard sentences start+1 .. start+count (IEEE 1969 lists 1-36, 360 sentences)."""
    texts = harvard_sentences(count, start)
    if count < 1 or len(texts) < count:
        raise UserValueError(
            f"num_sentences={count} (from sentence {start}) is outside the 360 Harvard "
            "sentences: pass 1..360, or text_file= for your own set"
        )
    source = {
        "kind": "harvard",
        "file": HARVARD_FILE.name,
        "start": start,
        "count": count,
        "sha256": _digest(texts),
    }
    return EvalSet(f"harvard[{start}:{start + count}]", _numbered(texts), source)


def text_file_set(path: str | os.PathLike, limit: int | None = None) -> EvalSet:
    """Non-empty lines of a UTF-8 file, stripped, numbered 1, 2, ... (blank lines take no
    number, as in `scripts/infer.py lines=true`)."""
    texts = [line.strip() for line in read_text_file(path).splitlines() if line.strip()]
    if not texts:
        raise UserValueError(f"text file {str(path)!r} has no non-empty line to evaluate")
    items = _limited(_numbered(texts), limit)
    source = {"kind": "text_file", "path": str(path), "sha256": _digest([i.text for i in items])}
    return EvalSet(Path(path).name, items, source)


def ljspeech_set(data_dir: str | os.PathLike, limit: int | None = None) -> EvalSet:
    """An LJSpeech-layout folder, read by the one metadata reader (`kokoro_lab.data.metadata`,
    whose docstring has the rules) with LJSpeech's columns `id|text|normalized`. Evaluation
    needs every row: a bad row (empty id or text, missing recording) refuses the set."""
    root = Path(data_dir)
    rows, bad = read_metadata(root, LJSPEECH_COLUMNS)
    metadata = root / METADATA
    if bad:
        first = bad[0]
        error = UserFileError if first.reason == "missing file" else UserValueError
        raise error(
            f"{metadata}:{first.row}: {first.reason} ({first.file}), and {len(bad) - 1} more "
            "bad rows: every row needs `id|text[|normalized text]` and its recording wavs/ID.wav"
        )
    if not rows:
        raise UserValueError(f"{metadata} has no rows to evaluate")
    items = tuple(EvalItem(k, row.id, row.text, row.wav) for k, row in enumerate(rows, 1))
    items = _limited(items, limit)
    source = {"kind": "ljspeech", "path": str(root), "sha256": _digest([i.text for i in items])}
    return EvalSet(root.name, items, source)


def eval_set_from_config(cfg) -> EvalSet:
    """`data_dir=` > `text_file=` > the first `num_sentences` Harvard sentences."""
    if cfg.get("data_dir") and cfg.get("text_file"):
        raise UserValueError(
            "pass data_dir= (texts and references from metadata.csv) or text_file=, not both"
        )
    limit = cfg.get("limit")
    if cfg.get("data_dir"):
        return ljspeech_set(cfg.data_dir, limit)
    if cfg.get("text_file"):
        return text_file_set(cfg.text_file, limit)
    count = int(cfg.get("num_sentences") or 20)
    return harvard_set(min(count, limit) if limit else count)
