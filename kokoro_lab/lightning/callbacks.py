"""Training callbacks: the per-step loss history (and its summary), and the held-out speaker
evaluation (WER, speaker similarity) before and after fitting."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only

from kokoro_lab.errors import UserFileError
from kokoro_lab.lightning.export import extract_voicepacks

if TYPE_CHECKING:
    from kokoro_lab.lightning.training import KokoroTraining

log = logging.getLogger(__name__)


class LossHistory(Callback):
    """Appends every training batch's losses (mean over ranks), clip ids and wall-clock time
    (Unix seconds) to `history.jsonl` (rank zero); a resumed run keeps appending, so the file
    is the whole curve."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @rank_zero_only
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        record = {
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "batch": batch_idx,
            "ids": list(batch["ids"]),
            "stage": pl_module.stage(max(trainer.global_step - 1, 0)),
            "losses": pl_module.step_losses,
            "time": time.time(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def read_history(path: str | Path) -> list[dict]:
    """history.jsonl -> records; where a resumed run repeated steps, the later record wins."""
    records: dict[tuple[int, int], dict] = {}
    path = Path(path)
    if not path.is_file():
        return []
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            records[(r["epoch"], r["batch"])] = r
    return sorted(records.values(), key=lambda r: (r["epoch"], r["batch"]))


def loss_summary(records: list[dict]) -> dict[str, dict[str, float]]:
    """{name: {first, last, final}} over the records in which each loss appears.

    `first` is the first step's value (the untrained model); `last` the mean over the final
    epoch's worth of steps (every clip once, so one random crop of silence or of speech does
    not decide it); `final` the last step's value alone.
    """
    per_epoch: dict[int, int] = {}
    for r in records:
        per_epoch[r["epoch"]] = per_epoch.get(r["epoch"], 0) + 1
    window = max(per_epoch.values(), default=1)
    series: dict[str, list[float]] = {}
    for r in records:
        for name, value in r["losses"].items():
            series.setdefault(name, []).append(value)
    return {
        name: {"first": v[0], "last": float(np.mean(v[-window:])), "final": v[-1]}
        for name, v in series.items()
    }


class SpeakerEval(Callback):
    """Before and after fitting (rank zero): synthesize held-out texts with the voicepack the
    style encoders extract from the training clips, and score them with the evaluation metrics:
    Whisper WER against the texts and Resemblyzer similarity to reference clips of the speaker.
    Results land in `pl_module.speaker_eval` ({"before": ..., "after": ...})."""

    def __init__(
        self,
        reference_dir: str | Path,
        texts: Sequence[str] | None = None,
        harvard_start: int = 300,
        harvard_count: int = 10,
        lang: str = "en-us",
        beam_size: int = 5,
    ):
        from kokoro_lab.evaluation.texts import harvard_sentences

        self.reference_dir = Path(reference_dir)
        self.texts = list(texts) if texts else harvard_sentences(harvard_count, harvard_start)
        self.lang = lang
        self.beam_size = beam_size

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            pl_module.speaker_eval = {"before": self.evaluate(trainer, pl_module)}

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            results = getattr(pl_module, "speaker_eval", {})
            results["after"] = self.evaluate(trainer, pl_module)
            pl_module.speaker_eval = results

    @torch.no_grad()
    def evaluate(self, trainer, pl_module: KokoroTraining) -> dict:
        """{"wer", "speaker_similarity"} of the current weights."""
        from kokoro_lab.metrics import SpeakerSimilarity, WhisperASR

        name, audios = self._synthesize(trainer, pl_module)
        rate = pl_module.feature_settings.sample_rate
        refs = self._references(rate)
        # Whisper on torch's thread count (WhisperASR leaves that count as it found it)
        asr = WhisperASR(beam_size=self.beam_size, threads=torch.get_num_threads())
        errors = asr.error_counts(audios, rate, self.texts)
        sims = SpeakerSimilarity().similarity_to_set(audios, refs, rate)
        result = {"wer": float(errors.rate), "speaker_similarity": float(np.mean(sims))}
        log.info("speaker eval (%s): %s", name, result)
        return result

    def _synthesize(self, trainer, pl_module: KokoroTraining) -> tuple[str, list[np.ndarray]]:
        """The first speaker's extracted voicepack speaks every text: (name, audio (n,) each)."""
        from kokoro_lab.pipeline import Pipeline
        from kokoro_lab.voices import VoicePack

        dm = trainer.datamodule
        if dm.train_set is None:
            dm.setup("fit")
        packs = extract_voicepacks(pl_module, dm.train_set)
        name, pack = next(iter(packs.items()))
        was_training = pl_module.training
        pl_module.eval()
        pipe = Pipeline(  # the espeak front end the training data was phonemized with
            pl_module.model, VoicePack(pack, name), lang=self.lang, seed=0, g2p="espeak"
        )
        audios = [pipe(text=t).audio.float().cpu().numpy() for t in self.texts]
        pl_module.train(was_training)
        return name, audios

    def _references(self, rate: int) -> list[np.ndarray]:
        from kokoro_lab.audio.io import load_audio

        refs = [load_audio(p, rate) for p in sorted((self.reference_dir / "wavs").glob("*.wav"))]
        if not refs:
            raise UserFileError(f"no reference clips in {self.reference_dir / 'wavs'}")
        return refs
