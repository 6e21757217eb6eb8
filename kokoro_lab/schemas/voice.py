"""The voice group's schema: one catalogue entry, `configs/voice/NAME.yaml` (`+voice=NAME`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VoiceConfig:
    """`voice.*`: where voice NAME's voicepack comes from and what it speaks."""

    name: str | None = None
    source: str | None = None  # embedded | hub | blend (kokoro_lab.voices.SOURCES)
    key: str | None = None  # embedded: the array's name in the bundle
    repo_id: str | None = None  # hub: the repository holding `filename`
    filename: str | None = None
    blend: list[str] = field(default_factory=list)  # blend: the voices averaged
    version: str | None = None  # the release whose pack loads (v1.0 | v0.19)
    versions: list[str] = field(default_factory=list)  # every release that had this voice
    lang: str | None = None  # what +voice=NAME speaks without lang=
    # the front end for lang=en-us (docs/frontend_intelligibility.md)
    english_g2p: str | None = None
    gender: str | None = None
