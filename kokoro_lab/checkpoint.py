"""Official Kokoro checkpoint layouts (v0.19, v1.0): load, validate, save.

Layout: a top-level dict of component state dicts, `{"bert", "bert_encoder", "predictor",
"text_encoder", "decoder"}`. v1.0 files (`kokoro-v1_0.pth`) prefix inner keys with `module.`
(saved from DataParallel); v0.19 files (`kokoro-v0_19.pth`) may wrap everything in `net`.
Every rename or fill below is data, and every load is strict: a mismatch lists the keys.
"""

from __future__ import annotations

import logging
import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import Tensor, nn

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import atomic_write, sha256_file

log = logging.getLogger(__name__)

COMPONENTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
KNOWN_SHA256 = {
    # From the v0.19 model card of hexgrad/Kokoro-82M.
    "kokoro-v0_19.pth": "3b0c392f87508da38fad3a2f9d94c359f1b657ebd2ef79f9d56d69503e470b0a",
}
#: Prefixes stripped from inner keys (DataParallel / DDP wrappers).
STRIP_PREFIXES = ("module.",)
#: Keys dropped when present: buffers that older transformers versions persisted.
DROP_KEYS = (r"^embeddings\.position_ids$", r"^embeddings\.token_type_ids$")
#: Parameters official files omit, filled with the value the official code runs with.
#: AdaIN's InstanceNorm1d is declared affine=True only as an ONNX-export workaround; Kokoro was
#: trained without it, so files lack norm.weight / norm.bias (hexgrad/kokoro#175) and the
#: official model computes with the initial identity (1, 0).
FILL_IF_ABSENT = {
    r"(^|\.)norm\.weight$": torch.ones_like,
    r"(^|\.)norm\.bias$": torch.zeros_like,
}

StateDicts = dict[str, dict[str, Tensor]]


class CheckpointError(UserValueError):
    """A checkpoint that is unreadable, tampered with, or does not fit the model."""


def read_checkpoint(path: str | Path, expected_sha256: str | None = None) -> StateDicts:
    """Read an official-layout file with `weights_only=True` and normalize its layout.

    `expected_sha256` (or the known hash for an official file name) is verified first.
    """
    path = Path(path)
    if not path.is_file():
        raise UserFileError(f"checkpoint {str(path)!r} does not exist: pass an existing .pth")
    expected = expected_sha256 or KNOWN_SHA256.get(path.name)
    if expected is not None:
        actual = sha256_file(path)
        if actual != expected:
            raise CheckpointError(
                f"checkpoint {str(path)!r} has SHA-256 {actual}, expected {expected}: the file is "
                "corrupted or not the official one; download it again"
            )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused by the safe loader (weights_only=True): it "
            f"holds objects other than tensors, possibly code. Only load files you trust. ({err})"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} could not be read ({err}); it is truncated or not a "
            "PyTorch file: download or export it again"
        ) from err
    return normalize_layout(raw, source=str(path))


def normalize_layout(raw: object, source: str = "checkpoint") -> StateDicts:
    """Unwrap `net`, strip `module.` prefixes, drop stale buffers; check the components."""
    if isinstance(raw, dict) and "net" in raw and isinstance(raw["net"], dict):
        raw = raw["net"]
    if not isinstance(raw, dict):
        raise CheckpointError(f"{source}: expected a dict of components, got {type(raw).__name__}")
    missing = [c for c in COMPONENTS if c not in raw]
    if missing:
        raise CheckpointError(
            f"{source}: missing components {missing}; an official Kokoro checkpoint has "
            f"{list(COMPONENTS)} (found {sorted(map(str, raw))[:10]})"
        )
    out: StateDicts = {}
    for comp in COMPONENTS:
        sd = raw[comp]
        if not isinstance(sd, dict):
            raise CheckpointError(f"{source}: component {comp!r} is not a state dict")
        clean = {}
        for key, value in sd.items():
            for prefix in STRIP_PREFIXES:
                if key.startswith(prefix):
                    key = key[len(prefix) :]
            if any(re.search(p, key) for p in DROP_KEYS):
                continue
            if not isinstance(value, Tensor):
                raise CheckpointError(f"{source}: {comp}.{key} is not a tensor")
            clean[key] = value
        out[comp] = clean
    return out


def _fill_absent(module: nn.Module, sd: dict[str, Tensor], comp: str) -> dict[str, Tensor]:
    sd = dict(sd)
    filled = 0
    for key, param in module.state_dict().items():
        if key in sd:
            continue
        for pattern, fill in FILL_IF_ABSENT.items():
            if re.search(pattern, key):
                sd[key] = fill(param)
                filled += 1
                break
    if filled:
        log.debug("%s: filled %d identity InstanceNorm affine parameters", comp, filled)
    return sd


def load_into(model: nn.Module, ckpt: StateDicts) -> None:
    """Strictly load every component; on mismatch raise listing the missing / unexpected keys."""
    problems = []
    for comp in COMPONENTS:
        module = getattr(model, comp)
        sd = _fill_absent(module, ckpt[comp], comp)
        expected = module.state_dict()
        missing = sorted(set(expected) - set(sd))
        unexpected = sorted(set(sd) - set(expected))
        shapes = [
            f"{k}: file {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
            for k, v in expected.items()
            if k in sd and sd[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            problems.append(
                f"{comp}: missing {missing[:8]}{'...' if len(missing) > 8 else ''} "
                f"({len(missing)}), unexpected {unexpected[:8]}"
                f"{'...' if len(unexpected) > 8 else ''} ({len(unexpected)}), "
                f"shape mismatches {shapes[:4]}"
            )
            continue
        module.load_state_dict(sd, strict=True)
    if problems:
        raise CheckpointError(
            "checkpoint does not fit the model (is the model config right for this file?):\n  "
            + "\n  ".join(problems)
        )


def state_dicts(model: nn.Module) -> StateDicts:
    """The model's weights in the official v1.0 layout (no `module.` prefix)."""
    return {
        comp: {k: v.detach().cpu().clone() for k, v in getattr(model, comp).state_dict().items()}
        for comp in COMPONENTS
    }


def save_checkpoint(ckpt: StateDicts | nn.Module, path: str | Path) -> Path:
    """Write the official layout atomically: the file appears whole or not at all."""
    data = state_dicts(ckpt) if isinstance(ckpt, nn.Module) else ckpt
    return atomic_write(path, lambda tmp: torch.save(data, tmp))
