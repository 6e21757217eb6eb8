"""Who speaks: voice specs -> voicepacks, and (voice, language, speed) -> a `Pipeline`, each
loaded once per process and shared by every line that asks for it.

A spec is a catalogue name or voicepack path (`kokoro_lab.voices.load_voice`), or a mix with
weights (`jf_alpha:0.7+jm_kumo:0.3`, `kokoro_lab.voice_mix`). `presets` name voicepacks that are
already loaded (infer's `+voice=`/`voice_path=`/`voice_mix=` resolution).
"""

from __future__ import annotations

import hashlib
import os

from kokoro_lab.errors import UserError
from kokoro_lab.model import KokoroModel
from kokoro_lab.pipeline import Pipeline
from kokoro_lab.text.frontend import DEFAULT_LANG, FrontEnd, make_frontend
from kokoro_lab.voices import VoicePack, load_voice

#: Characters that make a spec a weighted mix rather than a name or a path.
MIX_MARKERS = ("+", ":", "(")


def voice_sha256(voice: VoicePack) -> str:
    return hashlib.sha256(voice.pack.numpy().tobytes()).hexdigest()


class Speakers:
    """Voicepacks by spec and pipelines by (spec, lang, speed) over one model.

    g2p: the `g2p=` mode (None: each voice's default); lexicon: {word: phonemes} for every mode;
    seed: the excitation noise seed every pipeline uses.
    """

    def __init__(
        self,
        model: KokoroModel,
        *,
        voices_dir: str | os.PathLike | None = None,
        g2p: str | None = None,
        lexicon: dict[str, str] | None = None,
        seed: int | None = 0,
        presets: dict[str, VoicePack] | None = None,
    ):
        self.model = model
        self.voices_dir = voices_dir
        self.g2p = g2p
        self.lexicon = lexicon
        self.seed = seed
        self._voices: dict[str, VoicePack] = dict(presets or {})
        self._frontends: dict[tuple, FrontEnd] = {}
        self._pipelines: dict[tuple, Pipeline] = {}

    def voice(self, spec: str) -> VoicePack:
        """The voicepack of `spec`; a UserError naming it when it cannot load."""
        if spec not in self._voices:
            if any(marker in spec for marker in MIX_MARKERS):
                from kokoro_lab.voice_mix import load_voice_mix

                self._voices[spec] = load_voice_mix(spec, voices_dir=self.voices_dir)
            else:
                self._voices[spec] = load_voice(spec, self.voices_dir)
        return self._voices[spec]

    def check(self, specs: set[str]) -> dict[str, str]:
        """Load each spec; {spec: why it failed} for those that did not load."""
        failed = {}
        for spec in sorted(specs):
            try:
                self.voice(spec)
            except UserError as err:
                failed[spec] = f"voice {spec!r}: {err}"
        return failed

    def lang(self, spec: str, lang: str | None) -> str:
        """The language a line speaks: its own, else the voice's catalogue language, else
        en-us."""
        return lang or getattr(self.voice(spec), "lang", None) or DEFAULT_LANG

    def frontend(self, spec: str, lang: str) -> FrontEnd:
        voice = self.voice(spec)
        key = (lang, voice.release, getattr(voice, "english_g2p", None))
        if key not in self._frontends:
            self._frontends[key] = make_frontend(
                lang, self.g2p, self.lexicon, voice_release=key[1], english_g2p=key[2]
            )
        return self._frontends[key]

    def pipeline(self, spec: str, lang: str | None, speed: float) -> Pipeline:
        """The pipeline for a voice spec, a line's language (None: the voice's) and speed."""
        lang = self.lang(spec, lang)
        key = (spec, lang, float(speed))
        if key not in self._pipelines:
            self._pipelines[key] = Pipeline(
                self.model,
                self.voice(spec),
                speed=speed,
                seed=self.seed,
                g2p=self.frontend(spec, lang),
            )
        return self._pipelines[key]
