"""Validation media: audio and mel / alignment plots for the loggers that take them.

Axes: f alignment frames (600 samples), F mel frames (300 samples), t tokens, m mel bins,
n samples. Figures use matplotlib's object API on their own Agg canvas: no pyplot, no global
backend.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def figure_to_image(fig) -> np.ndarray:
    """A matplotlib Figure -> RGB array (h, w, 3), drawn on its own Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def plot_mels(real: Tensor, fake: Tensor):
    """Log-mels (m, F) of the real and the reconstructed clip, stacked."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend

    fig = Figure(figsize=(8, 5))
    axes = fig.subplots(2, 1, sharex=True)
    for ax, mel, title in ((axes[0], real, "real"), (axes[1], fake, "reconstructed")):
        ax.imshow(mel.float().cpu().numpy(), origin="lower", aspect="auto", interpolation="none")
        ax.set_title(title)
    axes[1].set_xlabel("mel frame (12.5 ms)")
    fig.tight_layout()
    return fig


def plot_alignment(log_attn: Tensor, durations: Tensor):
    """Soft alignment log_attn (f, t) as an image with the MAS path (durations (t,)) over it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.imshow(
        log_attn.float().exp().cpu().numpy().T, origin="lower", aspect="auto", interpolation="none"
    )
    ends = torch.cumsum(durations.cpu(), 0).numpy()
    ax.step(ends - 0.5, np.arange(len(ends)), where="post", color="w", linewidth=0.8)
    ax.set_xlabel("frame (25 ms)")
    ax.set_ylabel("token")
    fig.tight_layout()
    return fig


def log_validation_media(
    loggers,
    key: str,
    step: int,
    sample_rate: int,
    real: Tensor,
    reconstructed: Tensor,
    synthesized: Tensor,
    mel_real: Tensor,
    mel_fake: Tensor,
    log_attn: Tensor,
    durations: Tensor,
) -> None:
    """Audio (n,) x 3, mels (m, F), log_attn (f, t) and durations (t,) to W&B (`log_audio` /
    `log_image`) and TensorBoard (`add_audio` / `add_image`); other loggers (CSV) take no media
    and are skipped."""
    from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

    audios = {"real": real, "reconstructed": reconstructed, "synthesized": synthesized}
    audios = {k: v.detach().float().cpu().clamp(-1, 1).numpy() for k, v in audios.items()}
    images = {
        "mel": figure_to_image(plot_mels(mel_real, mel_fake)),
        "alignment": figure_to_image(plot_alignment(log_attn, durations)),
    }
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_audio(
                f"{key}/audio",
                list(audios.values()),
                step=step,
                caption=list(audios),
                sample_rate=[sample_rate] * len(audios),
            )
            logger.log_image(f"{key}/plots", list(images.values()), step=step, caption=list(images))
        elif isinstance(logger, TensorBoardLogger):
            for name, audio in audios.items():
                logger.experiment.add_audio(f"{key}/{name}", audio[None], step, sample_rate)
            for name, image in images.items():
                logger.experiment.add_image(f"{key}/{name}", image, step, dataformats="HWC")
