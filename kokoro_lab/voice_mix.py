"""Voice mixes: `jf_alpha:0.7+jm_kumo:0.3` -> one voicepack, the weighted average of its parts.

Axes: n rows (utterance length), s style.

Grammar: components joined by `+`, each `NAME`, `NAME:WEIGHT` or `NAME(WEIGHT)` (the latter is
Kokoro-FastAPI's spelling, `af_bella(2)+af_sky(1)`); spaces around a component are ignored. A
bare NAME weighs 1; weights are positive finite numbers and are normalized to sum to 1 (as
Kokoro-FastAPI does by default). Kokoro-FastAPI's `a-b` (subtracting a voice) is not accepted.

A NAME is a catalogue voice (`configs/voice/NAME.yaml`, loaded as `+voice=NAME` would be), a
`NAME.pt` in `voices_dir`, or a voicepack path (`.pt`, `.pth`, `.npz`, or anything with `/`).
With `allow_paths=False` (for a server taking specs from the network) only catalogue names pass
and anything path-like is refused.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.voices import VoicePack, load_catalogue, load_voice

EXAMPLE = "jf_alpha:0.7+jm_kumo:0.3 or jf_alpha(2)+jm_kumo(1)"
#: Substrings that make a component a file path rather than a voice name (allow_paths=False).
PATH_MARKERS = ("/", "\\", "..", "~", ".pt", ".npz")
#: `NAME(WEIGHT)` and `NAME:WEIGHT` (the weight after the last colon, and no path separator in
#: it, so `C:\voices\a.pt` stays one name).
_PAREN_WEIGHT = re.compile(r"(.*?)\s*\((.*)\)", re.DOTALL)
_COLON_WEIGHT = re.compile(r"(.*?)\s*:([^:/\\]*)", re.DOTALL)


def _is_path(name: str) -> bool:
    """A component that names a file, as `load_voice` tells a path from a voice name."""
    return name.endswith((".pt", ".pth", ".npz")) or "/" in name or name.startswith("~")


def _weight(spec: str, index: int, part: str, text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        weight = float(text.strip())
    except ValueError:
        weight = math.nan
    if not (math.isfinite(weight) and weight > 0):
        raise UserValueError(
            f"voice_mix {spec!r}: component {index} {part!r} has weight {text.strip()!r}, which "
            f"is not a positive number: give every weight as a number > 0, e.g. {EXAMPLE}"
        )
    return weight


def _check_name(
    spec: str,
    index: int,
    name: str,
    allow_paths: bool,
    voices_dir: str | os.PathLike | None,
    catalogue: dict[str, dict],
) -> None:
    """ValueError (or FileNotFoundError for a missing file) unless `name` is loadable."""
    where = f"voice_mix {spec!r}: component {index} {name!r}"
    if not allow_paths and any(marker in name for marker in PATH_MARKERS):
        raise UserValueError(
            f"{where} looks like a file path, and only catalogue voice names are accepted here: "
            f"use names such as {', '.join(sorted(catalogue)[:5])}, ..."
        )
    if name in catalogue:
        return
    if allow_paths:
        if voices_dir is not None and (Path(voices_dir) / f"{name}.pt").is_file():
            return
        if _is_path(name):
            if not Path(name).expanduser().is_file():
                raise UserFileError(f"{where}: voicepack file {name!r} does not exist")
            return
    hints = []
    if "," in name:
        hints.append("join components with '+', not ','")
    if "-" in name:
        hints.append("subtracting a voice (Kokoro-FastAPI's a-b) is not supported")
    if "(" in name or ")" in name:
        hints.append("write a weight as NAME(WEIGHT) with both parentheses")
    elsewhere = " (or a NAME.pt in voices_dir=, or a .pt path)" if allow_paths else ""
    raise UserValueError(
        f"{where} is not a known voice{'; ' if hints else ''}{'; '.join(hints)}: known voices "
        f"are {', '.join(sorted(catalogue))}{elsewhere}; e.g. {EXAMPLE}"
    )


def parse_voice_mix(
    spec: str,
    allow_paths: bool = True,
    *,
    voices_dir: str | os.PathLike | None = None,
    catalogue: dict[str, dict] | None = None,
) -> list[tuple[str, float]]:
    """`"jf_alpha:0.7+jm_kumo:0.3"` -> `[("jf_alpha", 0.7), ("jm_kumo", 0.3)]`, weights summing
    to 1 (see the module docstring for the grammar and what a name may be).

    Raises ValueError naming the component for an empty component, a weight that is not a
    positive number, an unknown voice, or (allow_paths=False) a path; FileNotFoundError for a
    path that does not exist.
    """
    catalogue = load_catalogue() if catalogue is None else catalogue
    if not spec.strip():
        raise UserValueError(f"voice_mix is empty: give voices and weights, e.g. {EXAMPLE}")
    parts = []
    for index, part in enumerate(spec.split("+"), start=1):
        part = part.strip()
        if not part:
            raise UserValueError(
                f"voice_mix {spec!r}: component {index} is empty: join NAME, NAME:WEIGHT or "
                f"NAME(WEIGHT) with single '+' signs, e.g. {EXAMPLE}"
            )
        m = _PAREN_WEIGHT.fullmatch(part) or _COLON_WEIGHT.fullmatch(part)
        name, weight_text = (m[1], m[2]) if m else (part, None)
        if not name:
            raise UserValueError(
                f"voice_mix {spec!r}: component {index} {part!r} has no voice name"
            )
        weight = _weight(spec, index, part, weight_text)
        _check_name(spec, index, name, allow_paths, voices_dir, catalogue)
        parts.append((name, weight))
    total = math.fsum(w for _, w in parts)
    return [(name, w / total) for name, w in parts]


def load_voice_mix(
    spec: str, voices_dir: str | os.PathLike | None = None, allow_paths: bool = True
) -> VoicePack:
    """The blend `spec` describes (n, 1, s): `VoicePack.blend` of the components with their
    normalized weights (equal weights give exactly the official `torch.mean` of the packs). It
    speaks the first component's catalogue language (None for a file) and English G2P mode."""
    catalogue = load_catalogue()
    components = parse_voice_mix(spec, allow_paths, voices_dir=voices_dir, catalogue=catalogue)
    packs = []
    for name, _ in components:
        if name in catalogue:
            packs.append(load_voice(name, voices_dir, catalogue=catalogue))
        elif voices_dir is not None and (Path(voices_dir) / f"{name}.pt").is_file():
            packs.append(VoicePack.from_pt(Path(voices_dir) / f"{name}.pt", name))
        else:
            packs.append(VoicePack.load(Path(name).expanduser()))
    mix = VoicePack.blend(packs, [w for _, w in components], name=spec)
    mix.lang, mix.english_g2p = packs[0].lang, packs[0].english_g2p
    return mix
