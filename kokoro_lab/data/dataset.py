"""LJSpeech-layout speech datasets: metadata rows -> cached phonemes and features -> padded batches.

Axes: b batch, t tokens (with the two boundary pads), m mel bins, F mel frames (300 samples),
n samples at 24 kHz.

The rows come from `kokoro_lab.data.metadata.read_metadata` (its docstring has the rules:
columns, speaker default, bad rows), the reader voice fitting and evaluation use too.

`prepare_manifest` resamples every clip to 24 kHz, phonemizes its text, computes the log-mel and
pyin F0 once and stores one file per clip under a directory named by the hash of the feature
settings and the language (so new settings never read stale features). Rows that cannot be used
(missing or unreadable audio, no speakable phonemes, too long for the context, too short for the
alignment) are skipped, logged and listed in `bad_rows.tsv` next to the cache.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from kokoro_lab.audio.features import LOG_FLOOR, FeatureSettings, LogMelSpectrogram, clip_features
from kokoro_lab.audio.io import PCM_SCALE, load_audio
from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.data.metadata import DEFAULT_COLUMNS, DEFAULT_SPEAKER, BadRow, Row, read_metadata
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import atomic_write
from kokoro_lab.modules.length_regulator import rescale_durations

if TYPE_CHECKING:
    from kokoro_lab.model import KokoroModel

log = logging.getLogger(__name__)


@dataclass
class Manifest:
    """The usable clips of a dataset (`entries`), its speakers and the rows that were skipped."""

    cache_dir: Path
    entries: list[dict]
    speakers: list[str]
    bad_rows: list[BadRow] = field(default_factory=list)


def cache_key(settings: FeatureSettings, lang: str) -> str:
    """The cache directory name: feature settings hash plus the G2P language."""
    return f"{settings.digest()}-{lang}"


def _clip_stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _phonemize(rows: list[Row], lang: str) -> list[str]:
    todo = [r for r in rows if r.phonemes is None]
    if todo:
        from kokoro_lab.text import get_g2p

        g2p = get_g2p(lang)
        for r, ps in zip(todo, g2p.phonemize_batch([r.text for r in todo])):
            r.phonemes = ps
    return [r.phonemes for r in rows]


def _process_row(job: tuple) -> dict | BadRow:
    """One metadata row -> its manifest entry (features written to the cache), or why not."""
    from kokoro_lab.text import add_boundary_pads, encode, is_speakable

    row, settings, out_dir, max_seconds = job

    def skip(reason: str) -> BadRow:
        return BadRow(str(row.wav), row.line, reason)

    ps = row.phonemes
    if not ps or not is_speakable(ps):
        return skip(f"no speakable phonemes for text {row.text[:60]!r}")
    ids = encode(ps)
    if len(ids) > CONTEXT_LENGTH:
        return skip(f"{len(ids)} phonemes exceed the {CONTEXT_LENGTH} context")
    ids = add_boundary_pads(ids)
    try:
        audio = load_audio(row.wav, settings.sample_rate)
    except (RuntimeError, OSError, ValueError) as err:  # soundfile raises LibsndfileError
        return skip(f"unreadable audio ({err})")
    seconds = len(audio) / settings.sample_rate
    frames = len(audio) // (2 * settings.hop_length)
    if seconds > max_seconds:
        return skip(f"{seconds:.1f} s is longer than max_seconds={max_seconds}")
    if frames < len(ids):
        # The monotonic alignment gives every token at least one frame.
        return skip(f"{frames} frames for {len(ids)} tokens: too short")
    if not np.any(np.abs(audio) > 1e-4):
        return skip("silent audio")
    feats = clip_features(audio, settings, LogMelSpectrogram(settings))
    item = {
        "tokens": torch.tensor(ids, dtype=torch.int16),
        "audio": torch.round(feats["audio"].clamp(-1, 1) * PCM_SCALE).to(torch.int16),
        "mel": feats["mel"],
        "f0": feats["f0"],
    }
    atomic_write(out_dir / f"{row.id}.pt", lambda tmp: torch.save(item, tmp))
    return {
        "id": row.id,
        "speaker": row.speaker,
        "frames": frames,
        "tokens": len(ids),
        "phonemes": ps,
        "text": row.text,
        "stamp": _clip_stamp(row.wav),
    }


def prepare_manifest(
    data_dir: str | os.PathLike,
    lang: str = "en-us",
    settings: FeatureSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    default_speaker: str = DEFAULT_SPEAKER,
    max_seconds: float = 20.0,
    workers: int = 1,
) -> Manifest:
    """Compute (or reuse) every clip's tokens and features; write `manifest.json`.

    `cache_dir` defaults to `DATA_DIR/.kokoro_lab_cache`; features go to
    `cache_dir/<settings hash>-<lang>/ID.pt`. A clip is recomputed when its wav changes.
    `workers` > 1 computes features (pyin dominates: ~1 s per clip) in that many processes.
    """
    settings = settings or FeatureSettings()
    data_dir = Path(data_dir)
    root = Path(cache_dir) if cache_dir else data_dir / ".kokoro_lab_cache"
    out_dir = root / cache_key(settings, lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    previous = {}
    if manifest_path.is_file():
        previous = {e["id"]: e for e in json.loads(manifest_path.read_text())["entries"]}

    rows, bad = read_metadata(data_dir, columns, default_speaker=default_speaker)
    entries = []
    fresh = [r for r in rows if (previous.get(r.id) or {}).get("stamp") != _clip_stamp(r.wav)]
    phonemes = dict(zip((r.id for r in fresh), _phonemize(fresh, lang)))
    todo = []
    for row in rows:
        if row.id not in phonemes and (out_dir / f"{row.id}.pt").is_file():
            entries.append(previous[row.id])
        else:
            row.phonemes = phonemes[row.id]
            todo.append(row)
    jobs = [(row, settings, out_dir, max_seconds) for row in todo]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = list(
                tqdm(
                    pool.map(_process_row, jobs, chunksize=4),
                    total=len(jobs),
                    desc="features",
                    disable=len(jobs) < 50,
                )
            )
    else:
        results = [_process_row(j) for j in tqdm(jobs, desc="features", disable=len(jobs) < 50)]
    for result in results:
        (bad if isinstance(result, BadRow) else entries).append(result)
    order = {r.id: i for i, r in enumerate(rows)}
    entries.sort(key=lambda e: order[e["id"]])
    speakers = sorted({e["speaker"] for e in entries})
    payload = {"settings": asdict(settings), "lang": lang, "entries": entries}
    atomic_write(manifest_path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))
    if bad:
        lines = "".join(f"{b.file}\t{b.row}\t{b.reason}\n" for b in bad)
        atomic_write(out_dir / "bad_rows.tsv", lambda tmp: tmp.write_text(lines))
        log.warning(
            "%s: skipped %d of %d rows (see %s), e.g. %s: %s",
            data_dir,
            len(bad),
            len(bad) + len(entries),
            out_dir / "bad_rows.tsv",
            bad[0].file,
            bad[0].reason,
        )
    if not entries:
        raise UserValueError(f"no usable clip in {str(data_dir)!r}: {len(bad)} rows were skipped")
    return Manifest(out_dir, entries, speakers, bad)


def predicted_durations(
    model: KokoroModel, token_lists: Sequence[Sequence[int]], voice: str = "jf_alpha"
) -> list[list[int]]:
    """token_lists (t each) -> the durations (t each) `model` predicts with the mean style of
    `voice` (bert + predictor only, no audio), in eval mode (dropout off); the model's mode is
    restored afterwards."""
    from kokoro_lab.voices import load_voice

    device = next(model.parameters()).device
    style = load_voice(voice).pack.mean(dim=(0, 1))[None].to(device)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.inference_mode():
            for ids in token_lists:
                tokens = torch.tensor([list(ids)], device=device)
                prosody, _ = model.predict_prosody(tokens, style)
                out.append(prosody.durations[0].tolist())
    finally:
        model.train(was_training)
    return out


def attach_reference_durations(
    manifest: Manifest,
    source: str,
    data_dir: Path,
    voice: str = "jf_alpha",
    model: KokoroModel | None = None,
) -> None:
    """Give every entry `ref_durations` (t) summing to its frames, from `source`:
    "file" reads DATA_DIR/durations.json (the rendering model's, synthetic data only);
    "pretrained" asks `model` (the run's pretrained initial model; text only, so any dataset has
    them). Kept in the manifest, so each clip is predicted once."""
    tag = f"{source}:{voice}" if source == "pretrained" else source
    todo = [e for e in manifest.entries if e.get("ref_source") != tag]
    if not todo:
        return
    if source == "file":
        path = Path(data_dir) / "durations.json"
        if not path.is_file():
            raise UserFileError(f"reference_durations=file needs {path}")
        table = json.loads(path.read_text())
        found = [table.get(e["id"], {}).get("durations") or [[]] for e in todo]
        raw = [d[0] if len(d) == 1 else sum(d, []) for d in found]
    elif source == "pretrained":
        from kokoro_lab.text import model_input_ids

        if model is None:
            raise ValueError(  # a bug: the caller must inject the model (tasks/train.py does)
                "reference_durations=pretrained needs the model that predicts them: pass "
                "reference_model= (the training task passes the run's initial model)"
            )
        raw = predicted_durations(model, [model_input_ids(e["phonemes"]) for e in todo], voice)
    else:
        raise UserValueError(f"reference_durations={source!r}: use null, 'file' or 'pretrained'")
    for entry, d in zip(todo, raw):
        if len(d) != entry["tokens"]:
            raise ValueError(  # a bug: the model returned one duration per token
                f"{entry['id']}: {len(d)} reference durations for {entry['tokens']} tokens"
            )
        entry["ref_durations"] = rescale_durations(d, entry["frames"])
        entry["ref_source"] = tag
    path = manifest.cache_dir / "manifest.json"
    payload = json.loads(path.read_text())
    payload["entries"] = manifest.entries
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))


def load_manifest(cache_dir: Path) -> list[dict]:
    return json.loads((Path(cache_dir) / "manifest.json").read_text())["entries"]


class SpeechDataset(Dataset):
    """Cached clips -> dicts {index, id, speaker, tokens (t), audio (n), mel (m, F), f0 (F)}."""

    def __init__(self, cache_dir: str | os.PathLike, entries: list[dict], speakers: list[str]):
        self.cache_dir = Path(cache_dir)
        self.entries = entries
        self.speaker_index = {s: i for i, s in enumerate(speakers)}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def frames(self) -> list[int]:
        """Duration frames (600 samples) per clip: the length the sampler buckets by."""
        return [e["frames"] for e in self.entries]

    def __getitem__(self, index: int) -> dict:
        entry = self.entries[index]
        item = torch.load(self.cache_dir / f"{entry['id']}.pt", weights_only=True)
        out = {
            "index": index,
            "id": entry["id"],
            "speaker": self.speaker_index[entry["speaker"]],
            "tokens": item["tokens"].long(),
            "audio": item["audio"].float() / PCM_SCALE,
            "mel": item["mel"],
            "f0": item["f0"],
        }
        if "ref_durations" in entry:
            out["ref_durations"] = torch.tensor(entry["ref_durations"])
        return out


def _pad(tensors: list[Tensor], value: float = 0.0) -> Tensor:
    """[(..., l_i)] -> (b, ..., max l) padded at the end of the last axis."""
    longest = max(t.shape[-1] for t in tensors)
    out = tensors[0].new_full((len(tensors), *tensors[0].shape[:-1], longest), value)
    for i, t in enumerate(tensors):
        out[i, ..., : t.shape[-1]] = t
    return out


def collate(items: list[dict]) -> dict:
    """Items -> a padded batch: tokens/token_valid (b, t), mel (b, m, F) padded with the log
    floor, f0 and mel_valid (b, F), audio (b, 300 F), speaker and index (b,), ids (list), and
    ref_durations (b, t) when every item has them."""
    token_lengths = torch.tensor([len(x["tokens"]) for x in items])
    mel_lengths = torch.tensor([x["mel"].shape[-1] for x in items])
    extra = {}
    if all("ref_durations" in x for x in items):
        extra["ref_durations"] = _pad([x["ref_durations"] for x in items])
    return {
        **extra,
        "ids": [x["id"] for x in items],
        "index": torch.tensor([x["index"] for x in items]),
        "speaker": torch.tensor([x["speaker"] for x in items]),
        "tokens": _pad([x["tokens"] for x in items]),
        "token_valid": torch.arange(int(token_lengths.max()))[None] < token_lengths[:, None],
        "mel": _pad([x["mel"] for x in items], value=float(np.log(LOG_FLOOR))),
        "mel_valid": torch.arange(int(mel_lengths.max()))[None] < mel_lengths[:, None],
        "f0": _pad([x["f0"] for x in items]),
        "audio": _pad([x["audio"] for x in items]),
    }
