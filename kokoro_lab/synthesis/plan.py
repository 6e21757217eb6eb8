"""A corpus run's plan: the utterances, the rows kept out, each WAV's config hash and which WAVs
an earlier run already finished (`kokoro_lab.synthesis.records.finished`).

The config hash of a WAV covers everything that decides its audio: the run's settings (weights,
G2P mode, lexicon, seed: `settings`), the voicepack's sha256, the language, speed, input kind
and the text. Batch size and thread count change the audio only by float rounding and are not
in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kokoro_lab.hub import resolve_checkpoint
from kokoro_lab.io import sha256_file
from kokoro_lab.synthesis.corpus import BadRow, Utterance
from kokoro_lab.synthesis.records import config_sha256, finished
from kokoro_lab.synthesis.speakers import Speakers, voice_sha256


def checkpoint_identity(source) -> tuple[str, Path, str]:
    """(label, resolved path, sha256) of a checkpoint source (None = embedded)."""
    path = resolve_checkpoint(source)
    digest_file = path.with_suffix(".sha256")  # the embedded conversion keeps its digest beside it
    sha = digest_file.read_text().strip() if digest_file.is_file() else sha256_file(path)
    if source is None or str(source) in ("embedded", "v1.0", "v0.19", "hub"):
        label = "embedded" if source is None else str(source)
    else:
        label = Path(source).stem
    return label, path, sha


@dataclass
class Plan:
    output_dir: Path
    utterances: list[Utterance]
    bad: list[BadRow]
    config_sha256: dict[str, str]  # by WAV path (relative to output_dir)
    pending: set[str] = field(default_factory=set)  # WAV paths still to render


def plan_corpus(
    output_dir: str | os.PathLike,
    utterances: list[Utterance],
    bad: list[BadRow],
    speakers: Speakers,
    settings: dict,
) -> Plan:
    """Load every voice (a row whose voice does not load joins `bad`), hash each WAV's config
    and find what an earlier run in `output_dir` finished."""
    failed = speakers.check({u.voice for u in utterances})
    bad = bad + [BadRow(u.line, u.id, failed[u.voice]) for u in utterances if u.voice in failed]
    kept = [u for u in utterances if u.voice not in failed]
    shas = {
        u.wav: config_sha256(
            {
                **settings,
                "voice_sha256": voice_sha256(speakers.voice(u.voice)),
                "lang": speakers.lang(u.voice, u.lang),
                "speed": u.speed,
                "phonemes": u.phonemes,
                "content": u.content,
            }
        )
        for u in kept
    }
    out = Path(output_dir)
    done = finished(out, kept, shas)
    pending = {u.wav for u in kept if u.wav not in done}
    return Plan(out, kept, bad, shas, pending)
