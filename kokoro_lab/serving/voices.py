"""The voice catalogue as a network client sees it: catalogue names only, never a file path.

A request's `voice` is a catalogue name or a mix of them in either spelling the front end
accepts (`jf_alpha:0.7+jm_kumo:0.3`, `jf_alpha(2)+jm_kumo(1)`, kokoro_lab.voice_mix) parsed with
`allow_paths=False`, so nothing a client sends reaches the filesystem as a path: the files read
are the embedded bundle, `voices_dir/NAME.pt` and the Hugging Face cache, chosen by the
catalogue. Voicepacks are cached by their normalized mix, at most `cache_size` of them (each is
510 x 256 floats, 0.5 MB), so a client sending many distinct mixes cannot grow the process.

Axes: n rows (utterance length), s style.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from kokoro_lab.errors import UserError, UserFileError
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.serving.errors import ApiError, VoiceUnavailable
from kokoro_lab.voice_mix import load_voice_mix, parse_voice_mix
from kokoro_lab.voices import VoicePack, load_catalogue

log = logging.getLogger(__name__)

#: Where a voice loads from without the network (kokoro_lab.__main__.AVAILABILITY), or `hub`.
OFFLINE = ("embedded", "voices_dir", "hub-cache")


class VoiceBook:
    """Catalogue voices and mixes by name -> VoicePack (n, 1, s), cached; `voices_dir` holds
    NAME.pt files used before the hub (as in scripts/infer.py)."""

    def __init__(self, voices_dir: str | os.PathLike | None = None, cache_size: int = 32):
        if voices_dir is not None and not Path(voices_dir).is_dir():
            raise UserFileError(f"voices_dir {str(voices_dir)!r} is not a directory")
        self.voices_dir = voices_dir
        self.catalogue = load_catalogue()
        self.cache_size = cache_size
        self._cache: OrderedDict[str, VoicePack] = OrderedDict()
        self._lock = threading.Lock()

    def availability(self, name: str) -> str:
        """embedded | voices_dir | hub-cache | hub (a download), as `python -m kokoro_lab
        voices` prints it."""
        from kokoro_lab.__main__ import voice_availability

        return voice_availability(name, self.catalogue, self.voices_dir)

    def listing(self) -> list[dict]:
        """One entry per catalogue voice: name, language, gender, availability, and whether it
        loads without the network (`available`)."""
        out = []
        for name in sorted(self.catalogue):
            entry = self.catalogue[name]
            where = self.availability(name)
            out.append(
                {
                    "name": name,
                    "language": entry.get("lang"),
                    "gender": entry.get("gender"),
                    "availability": where,
                    "available": where in OFFLINE,
                }
            )
        return out

    def parse(self, spec: str | None) -> list[tuple[str, float]]:
        """A voice or mix spec (None: the default voice) -> [(name, weight)], weights summing
        to 1; a UserValueError for a path, an unknown name or a bad weight."""
        spec = DEFAULT_VOICE if spec is None else spec
        return parse_voice_mix(spec, allow_paths=False, catalogue=self.catalogue)

    def load(self, spec: str | None) -> VoicePack:
        """The voicepack of a spec (see `parse`); VoiceUnavailable when a component is neither
        local nor downloadable."""
        components = self.parse(spec)
        key = "+".join(f"{name}:{weight!r}" for name, weight in components)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            pack = load_voice_mix(key, voices_dir=self.voices_dir, allow_paths=False)
        except UserFileError as err:
            missing = [n for n, _ in components if self.availability(n) not in OFFLINE]
            raise VoiceUnavailable(
                f"voice {', '.join(missing) or spec!r} is not available on this server: its "
                "voicepack is neither embedded, in voices_dir, nor in the Hugging Face cache, "
                "and the hub cannot be reached (offline). GET /v1/audio/voices lists which "
                f"voices are available. ({err})"
            ) from None
        except UserError as err:
            raise ApiError(str(err)) from None
        pack.name = spec or DEFAULT_VOICE
        with self._lock:
            self._cache[key] = pack
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return pack
