"""Where a fit starts: a named voice, the mean voice, or the existing voice that sounds closest.

Axes: r rows, s style (256), n samples.

`auto` renders two of the speaker's own sentences with every voice available offline and picks
the one whose Resemblyzer embedding is closest to the centroid of the recordings.
"""

from __future__ import annotations

import logging

import torch

from kokoro_lab.config import SAMPLE_RATE
from kokoro_lab.model import KokoroModel
from kokoro_lab.voice_fitting.data import Clip
from kokoro_lab.voices import VoicePack, load_catalogue, load_voice

log = logging.getLogger(__name__)


def available_voices(voices_dir: str | None = None) -> list[str]:
    """Catalogue voices loadable without the network: the embedded ones, and hub voices whose
    NAME.pt is in voices_dir."""
    from pathlib import Path

    names = []
    for name, entry in load_catalogue().items():
        if entry["source"] == "embedded":
            names.append(name)
        elif voices_dir and (Path(voices_dir) / f"{name}.pt").is_file():
            names.append(name)
    return sorted(names)


def reference_packs(voices_dir: str | None = None) -> dict[str, VoicePack]:
    return {n: load_voice(n, voices_dir) for n in available_voices(voices_dir)}


@torch.no_grad()
def speaker_similarities(
    model: KokoroModel, packs: dict[str, VoicePack], clips: list[Clip], speaker, count: int = 2
) -> dict[str, float]:
    """Voice -> similarity of its rendering of `count` clips' phonemes to the clips' centroid."""
    from kokoro_lab.pipeline import Pipeline

    refs = [c.audio.numpy() for c in clips[:8]]
    out = {}
    for name, pack in packs.items():
        pipe = Pipeline(model, pack, seed=0)
        audios = [pipe.synthesize_phonemes(c.phonemes).audio.numpy() for c in clips[:count]]
        out[name] = float(speaker.similarity_to_set(audios, refs, SAMPLE_RATE).mean())
    return out


def initial_voice(
    init_voice: str,
    model: KokoroModel,
    clips: list[Clip],
    speaker,
    voices_dir: str | None = None,
    exclude: tuple[str, ...] = (),
) -> tuple[VoicePack, dict]:
    """`init_voice` (a name, a .pt path, `mean` or `auto`) -> (VoicePack, how it was chosen);
    `mean` and `auto` leave out the voices named in `exclude`."""
    if init_voice == "mean":
        packs = {k: v for k, v in reference_packs(voices_dir).items() if k not in exclude}
        pack = VoicePack.blend(list(packs.values()), name="mean")
        return pack, {"method": "mean", "of": sorted(packs)}
    if init_voice == "auto":
        packs = {k: v for k, v in reference_packs(voices_dir).items() if k not in exclude}
        sims = speaker_similarities(model, packs, clips, speaker)
        best = max(sims, key=sims.get)
        log.info("closest voice by speaker similarity: %s (%s)", best, sims)
        return packs[best], {"method": "closest by speaker similarity", "similarities": sims}
    return load_voice(init_voice, voices_dir), {"method": "given", "voice": init_voice}
