"""What a corpus run leaves beside its WAVs, and how a rerun knows what it may skip.

- `DIR/manifest.tsv`: one row per WAV (columns `RECORD_COLUMNS`): id, file (relative to DIR),
  voice, phonemes, duration_s, samples, the WAV's sha256 and `config_sha256`, a hash of
  everything that decides the audio (weights, voicepack, language, G2P settings, speed, seed,
  the text). Written by rank 0 once every rank is done, atomically.
- `DIR/.synthesis/rank-R.tsv`: rank R's journal, one row appended (and flushed to disk) after
  each WAV it wrote, so a killed run leaves a record of its finished lines. Rank 0 folds the
  journals into manifest.tsv at the end and removes them.
- `DIR/bad_rows.tsv`: line, id, reason for every input row kept out (journals
  `bad-rank-R.tsv`).

A line is finished when a record has its config hash and the WAV at its path has the recorded
sha256 (WAVs are written atomically: one that exists is whole).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from kokoro_lab.io import atomic_write, sha256_file
from kokoro_lab.synthesis.corpus import BadRow, Utterance

RECORD_COLUMNS = (
    "id",
    "file",
    "voice",
    "phonemes",
    "duration_s",
    "samples",
    "sha256",
    "config_sha256",
)
BAD_ROW_COLUMNS = ("line", "id", "reason")
MANIFEST = "manifest.tsv"
BAD_ROWS = "bad_rows.tsv"
JOURNALS = ".synthesis"


def config_sha256(settings: dict) -> str:
    """A stable hash of JSON-able settings (sorted keys)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _clean(value) -> str:
    return " ".join(str(value).split())  # no tab or newline inside a field


def _tsv(rows: Iterable[dict], columns: tuple[str, ...], header: bool) -> str:
    """Tab-separated lines, no quoting (fields hold no tab or newline)."""
    lines = ["\t".join(columns)] if header else []
    lines += ["\t".join(_clean(row[c]) for c in columns) for row in rows]
    return "".join(f"{line}\n" for line in lines)


def _read_tsv(path: Path, columns: tuple[str, ...], header: bool) -> list[dict]:
    """Rows of a TSV; a journal's last line, cut short by a kill, is dropped."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    rows = lines[1:] if header else lines
    out = []
    for line in rows:
        fields = line.split("\t")
        if len(fields) == len(columns):
            out.append(dict(zip(columns, fields)))
    return out


class Journal:
    """Rank `rank`'s append-only record of the WAVs it wrote (and the rows it could not
    speak)."""

    def __init__(self, output_dir: str | os.PathLike, rank: int):
        self.folder = Path(output_dir) / JOURNALS
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records = self.folder / f"rank-{rank}.tsv"
        self.bad = self.folder / f"bad-rank-{rank}.tsv"

    @staticmethod
    def _append(path: Path, text: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def wrote(self, records: list[dict]) -> None:
        self._append(self.records, _tsv(records, RECORD_COLUMNS, header=False))

    def refused(self, rows: list[BadRow]) -> None:
        self._append(self.bad, _tsv([vars(r) for r in rows], BAD_ROW_COLUMNS, header=False))


def record(u: Utterance, phonemes: str, samples: int, sample_rate: int, path: Path, sha: str):
    """The manifest row of a WAV just written."""
    return {
        "id": u.id,
        "file": u.wav,
        "voice": u.voice,
        "phonemes": phonemes,
        "duration_s": f"{samples / sample_rate:.6f}",
        "samples": samples,
        "sha256": sha256_file(path),
        "config_sha256": sha,
    }


def known_records(output_dir: str | os.PathLike) -> dict[str, dict]:
    """manifest.tsv's rows and then every journal's, by file (a later row wins)."""
    out = Path(output_dir)
    rows = _read_tsv(out / MANIFEST, RECORD_COLUMNS, header=True)
    for journal in sorted((out / JOURNALS).glob("rank-*.tsv")):
        rows += _read_tsv(journal, RECORD_COLUMNS, header=False)
    return {row["file"]: row for row in rows}


def finished(
    output_dir: str | os.PathLike, utterances: list[Utterance], shas: dict[str, str]
) -> dict[str, dict]:
    """{file: record} of the utterances a rerun may skip: a record with the same config hash
    and a WAV with the recorded sha256."""
    out = Path(output_dir)
    known = known_records(out)
    done = {}
    for u in utterances:
        row = known.get(u.wav)
        if row is None or row["config_sha256"] != shas[u.wav] or row["id"] != u.id:
            continue
        path = out / u.wav
        if path.is_file() and sha256_file(path) == row["sha256"]:
            done[u.wav] = row
    return done


def journal_counts(output_dir: str | os.PathLike) -> tuple[int, float]:
    """(WAVs, seconds of audio) the journals record so far (the progress bar's numbers)."""
    rows = []
    for journal in (Path(output_dir) / JOURNALS).glob("rank-*.tsv"):
        rows += _read_tsv(journal, RECORD_COLUMNS, header=False)
    return len(rows), sum(float(r["duration_s"]) for r in rows)


def write_manifest(
    output_dir: str | os.PathLike, utterances: list[Utterance], bad: list[BadRow]
) -> tuple[Path, Path | None, list[BadRow]]:
    """Fold the journals into manifest.tsv (rows in input order, for this run's utterances
    whose WAV exists) and bad_rows.tsv (removed when no row is bad); remove the journals.
    Returns (manifest path, bad rows path or None, every bad row: planned and at render)."""
    out = Path(output_dir)
    known = known_records(out)
    rows = [known[u.wav] for u in utterances if u.wav in known and (out / u.wav).is_file()]
    data = _tsv(rows, RECORD_COLUMNS, header=True)
    manifest = atomic_write(out / MANIFEST, lambda tmp: tmp.write_text(data, encoding="utf-8"))
    journals = out / JOURNALS
    for path in sorted(journals.glob("bad-rank-*.tsv")):
        bad = bad + [
            BadRow(int(r["line"]), r["id"], r["reason"])
            for r in _read_tsv(path, BAD_ROW_COLUMNS, header=False)
        ]
    bad = sorted(set(bad), key=lambda r: (r.line, r.id, r.reason))
    bad_path = out / BAD_ROWS
    if bad:
        text = _tsv([vars(r) for r in bad], BAD_ROW_COLUMNS, header=True)
        atomic_write(bad_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    elif bad_path.exists():
        bad_path.unlink()
    for path in journals.glob("*.tsv"):
        path.unlink()
    if journals.is_dir() and not any(journals.iterdir()):
        journals.rmdir()
    return manifest, (bad_path if bad else None), bad
