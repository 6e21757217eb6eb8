"""Render a small LJSpeech-layout dataset with our own pipeline and an embedded voice.

For tests and the from-scratch overfit recipe: Harvard sentences spoken by the pretrained model
(`DIR/wavs/ID.wav`, `DIR/metadata.csv` rows `id|text|speaker`). The rendering model's durations
go to `DIR/durations.json` for checking the aligner; `data.reference_durations=file` reads them
(the DDP test uses them as the alignment itself).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from kokoro_lab.errors import UserValueError
from kokoro_lab.evaluation.texts import harvard_sentences

log = logging.getLogger(__name__)

RECIPE_FILE = "synthetic.json"


def render_dataset(
    out_dir: str | os.PathLike,
    voice: str = "jf_alpha",
    count: int = 16,
    start: int = 0,
    lang: str = "en-us",
    seed: int = 0,
    speaker: str | None = None,
) -> Path:
    """Harvard sentences `start .. start + count` in `voice` -> `out_dir` (idempotent).

    An existing directory made with the same recipe is reused; the directory appears whole
    (written beside it, then renamed) so an interrupted render leaves nothing half-made.
    """
    from kokoro_lab.audio.io import write_wav
    from kokoro_lab.model import load_model
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    out_dir = Path(out_dir)
    recipe = {"voice": voice, "count": count, "start": start, "lang": lang, "seed": seed}
    recipe["g2p"] = "espeak"
    recipe["speaker"] = speaker or voice
    done = out_dir / RECIPE_FILE
    if done.is_file():
        if json.loads(done.read_text()) == recipe:
            return out_dir
        raise UserValueError(
            f"{str(out_dir)!r} holds a synthetic dataset made with another recipe "
            f"({done.read_text().strip()}): choose another directory or delete it"
        )
    texts = harvard_sentences(count, start)
    if len(texts) < count:
        raise UserValueError(f"only {len(texts)} Harvard sentences from {start}; asked for {count}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (tmp / "wavs").mkdir()
        # g2p="espeak": what the training data reader phonemizes with (data/dataset.py)
        pipeline = Pipeline(load_model(), load_voice(voice), lang=lang, seed=seed, g2p="espeak")
        rows, durations = [], {}
        for i, text in enumerate(texts):
            clip_id = f"{recipe['speaker']}_{start + i:04d}"
            result = pipeline(text=text)
            write_wav(tmp / "wavs" / f"{clip_id}.wav", result.audio)
            rows.append(f"{clip_id}|{text}|{recipe['speaker']}\n")
            durations[clip_id] = {
                "phonemes": result.phonemes,
                "durations": [c.durations.tolist() for c in result.chunks],
            }
            log.info("rendered %s (%.1f s)", clip_id, result.duration_s)
        (tmp / "metadata.csv").write_text("".join(rows), encoding="utf-8")
        (tmp / "durations.json").write_text(json.dumps(durations))
        (tmp / RECIPE_FILE).write_text(json.dumps(recipe))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
