"""Early stopping on held-out speaker similarity, keeping the best style.

After each validation the callback reads `monitor` (by default `val/speaker_sim`, which
VoicepackFit logs when it has a speaker encoder: the sentences of the held-out clips rendered with
the current style, scored against the speaker's recordings). A new best copies the style offsets;
`patience` validations without a gain of at least `min_delta` stop the fit; when the fit ends the
best offsets are put back, so the saved voicepack is the one that generalized best, not the last.
"""

from __future__ import annotations

import lightning as L
import torch


class BestHeldout(L.Callback):
    def __init__(self, monitor: str = "val/speaker_sim", patience: int = 2, min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.best: float | None = None
        self.best_step: int | None = None
        self.history: list[dict[str, float]] = []
        self._offsets: tuple[torch.Tensor, torch.Tensor] | None = None
        self._waited = 0

    def on_validation_end(self, trainer: L.Trainer, module) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        self.history.append({"step": int(trainer.global_step), self.monitor: value})
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.best_step, self._waited = value, int(trainer.global_step), 0
            self._offsets = (
                module.decoder_offsets.detach().clone(),
                module.prosody_offsets.detach().clone(),
            )
        else:
            self._waited += 1
            if self._waited >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer: L.Trainer, module) -> None:
        if self._offsets is not None:
            with torch.no_grad():
                module.decoder_offsets.copy_(self._offsets[0])
                module.prosody_offsets.copy_(self._offsets[1])
