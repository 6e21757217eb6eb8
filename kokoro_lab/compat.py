"""The seed's (hexgrad/Kokoro-82M v0.19) two-call API, on kokoro_lab:

model = build_model("kokoro-v0_19.pth", device)   # or None: the embedded offline default
audio, phonemes = generate(model, text, voicepack, lang="a")
"""

from __future__ import annotations

import numpy as np
import torch

from kokoro_lab.model import KokoroModel, load_model
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.text.g2p import lang_for_voice
from kokoro_lab.voices import VoicePack


def build_model(path: str | None = None, device: str = "cpu") -> KokoroModel:
    """A ready-to-run model from an official .pth (or the embedded default when path is None)."""
    return load_model(path, device=device)


def generate(
    model: KokoroModel,
    text: str,
    voicepack: torch.Tensor | VoicePack,
    lang: str = "a",
    speed: float = 1.0,
    seed: int | None = 0,
) -> tuple[np.ndarray, str]:
    """Text -> (24 kHz float audio (n,), phonemes). `lang` is a voice letter ("a" American,
    "b" British, as the seed took `VOICE_NAME[0]`) or an espeak language name ("en-us")."""
    pack = voicepack if isinstance(voicepack, VoicePack) else VoicePack(voicepack.cpu())
    language = lang_for_voice(lang) if len(lang) == 1 else lang
    result = Pipeline(model, pack, lang=language, speed=speed, seed=seed)(text=text)
    return result.audio.numpy(), result.phonemes
