"""`python scripts/phonemize.py`: text -> the phonemes `scripts/infer.py` would speak, no audio.

It takes infer's voice and language keys (`+voice=`, `voice_path=`, `voice_mix=`, `lang=`, `g2p=`,
`lexicon=`), so the front end resolves exactly as it does for synthesis (`frontend_for`). Each
non-empty input line gives one output line: the phonemes of that line's chunks joined by one
space.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from kokoro_lab.errors import UserValueError
from kokoro_lab.io import atomic_write, read_text_file
from kokoro_lab.text.frontend import FrontEnd, make_frontend
from kokoro_lab.text.lexicon import load_lexicon
from kokoro_lab.voices import VoicePack


def frontend_for(cfg: DictConfig, voice: VoicePack, lang: str) -> FrontEnd:
    """The front end a run uses: `lang`, the `g2p=` mode or the voice's default, `lexicon=`."""
    lexicon = load_lexicon(cfg.lexicon) if cfg.get("lexicon") else None
    return make_frontend(
        lang,
        cfg.get("g2p"),
        lexicon,
        voice_release=voice.release,
        english_g2p=getattr(voice, "english_g2p", None),
    )


def phonemize(cfg: DictConfig) -> list[str]:
    """Phoneme lines for `text=` or `text_file=`; written to `output=` when given."""
    from kokoro_lab.tasks.infer import resolve_voice

    given = [k for k in ("text", "text_file") if cfg.get(k) is not None]
    if len(given) != 1:
        raise UserValueError(f'pass one of text="..." or text_file=PATH (got {given or "none"})')
    content = read_text_file(cfg.text_file) if cfg.get("text_file") else str(cfg.text)
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        raise UserValueError(f"{given[0]} has no non-empty line: give something to phonemize")
    voice, lang = resolve_voice(cfg)
    frontend = frontend_for(cfg, voice, lang)
    out = [frontend.phonemize(line) for line in lines]
    if cfg.get("output"):
        data = "".join(f"{ps}\n" for ps in out)
        atomic_write(Path(cfg.output), lambda tmp: tmp.write_text(data, encoding="utf-8"))
    return out
