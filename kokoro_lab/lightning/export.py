"""After training: voicepacks from the trained style encoders, and the weights in the official
layout.

Axes: r voicepack rows (row r serves utterances of r + 1 phonemes), s style (both halves,
acoustic | prosodic), c clips of one speaker.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from einops import rearrange
from torch import Tensor

from kokoro_lab.model import KokoroModel

if TYPE_CHECKING:
    from kokoro_lab.lightning.training import KokoroTraining

#: Voicepack rows: one per phoneme count up to the 510-token context.
PACK_ROWS = 510
#: The least spread (in phonemes) of the length kernel that weights clips per row.
MIN_BANDWIDTH = 10.0


def length_weights(counts: Tensor, rows: int, bandwidth: float | None = None) -> Tensor:
    """Phoneme counts of a speaker's clips (c,) -> row weights (r, c), each row summing to 1.

    A Gaussian kernel on the distance between r + 1 and each clip's count; `bandwidth`: its
    spread (default: the counts' standard deviation, at least MIN_BANDWIDTH). A row too far
    from every clip for the kernel (all weights underflow) takes the plain mean.
    """
    n = counts.shape[0]
    bw = bandwidth or max(MIN_BANDWIDTH, float(counts.std()) if n > 1 else MIN_BANDWIDTH)
    lengths = torch.arange(1, rows + 1, dtype=torch.float32)
    w = torch.exp(-0.5 * ((lengths[:, None] - counts[None, :]) / bw) ** 2)
    w = w / w.sum(-1, keepdim=True).clamp(min=1e-12)
    return torch.where(
        torch.isfinite(w) & (w.sum(-1, keepdim=True) > 0), w, torch.full_like(w, 1 / n)
    )


@torch.no_grad()
def extract_voicepacks(
    module: KokoroTraining,
    dataset,
    rows: int = PACK_ROWS,
    bandwidth: float | None = None,
) -> dict[str, Tensor]:
    """Speaker -> voicepack (rows, 1, 2s) from the style encoders over that speaker's clips.

    Row r serves utterances of r + 1 phonemes (the v1.0 convention): a Gaussian-kernel average,
    over the clips, of their styles weighted by how close each clip's phoneme count is to r + 1
    (see `length_weights`). With few clips this is nearly their mean; with many it follows how a
    speaker's style changes with utterance length, which is what the official packs encode.
    """
    was_training = module.training
    module.eval()
    by_speaker: dict[int, list[tuple[int, Tensor]]] = {}
    for i in range(len(dataset)):
        item = dataset[i]
        style = module.clip_style(item["mel"].to(module.device)).float().cpu()
        # the token sequence carries a start and an end pad around the phonemes
        by_speaker.setdefault(item["speaker"], []).append((len(item["tokens"]) - 2, style))
    names = {v: k for k, v in dataset.speaker_index.items()}
    packs = {}
    for speaker, clips in by_speaker.items():
        counts = torch.tensor([c for c, _ in clips], dtype=torch.float32)
        styles = torch.stack([s for _, s in clips])  # (c, 2s)
        w = length_weights(counts, rows, bandwidth)
        packs[names[speaker]] = rearrange(w @ styles, "r s -> r 1 s").contiguous()
    module.train(was_training)
    return packs


def save_voicepacks(packs: dict[str, Tensor], directory: Path) -> dict[str, str]:
    """Write `directory/SPEAKER.pt` (the official format: a plain float32 tensor)."""
    from kokoro_lab.io import atomic_write
    from kokoro_lab.voices import STYLE_DIM, VoicePack

    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, pack in packs.items():
        path = directory / f"{name}.pt"
        if pack.shape[-1] == STYLE_DIM:
            VoicePack(pack, name).save(path)
        else:  # a tiny-config pack: same format, but VoicePack checks the official width
            atomic_write(path, lambda tmp, p=pack: torch.save(p.float().clone(), tmp))
        paths[name] = str(path)
    return paths


def export_official(model: KokoroModel, path: Path) -> Path:
    """The trained weights in the official v1.0 layout, checked by a strict reload."""
    from kokoro_lab.checkpoint import load_into, read_checkpoint, save_checkpoint

    save_checkpoint(model, path)
    load_into(KokoroModel(model.config), read_checkpoint(path))
    return path
