"""Speaker similarity: cosine similarity of Resemblyzer (GE2E d-vector) speaker embeddings.

    sim(a, b) = <e_a, e_b> / (|e_a| |e_b|),  in [-1, 1]; identical audio gives 1.

e is Resemblyzer's utterance embedding: `preprocess_wav` resamples to 16 kHz, normalizes the
volume and trims long silences (webrtcvad); `VoiceEncoder.embed_utterance` averages the
L2-normalized embeddings of 1.6 s partial windows and renormalizes. The pretrained encoder
(`pretrained.pt`) ships inside the `resemblyzer` wheel, so nothing is downloaded. Install it with
`pip install --no-deps resemblyzer webrtcvad-wheels` (its metadata asks for `webrtcvad`, which
needs a compiler, and the py2 `typing` backport; the wheels above cover both).

Similarity of a set to a reference set: each utterance against the reference centroid, the
L2-normalized mean of the reference embeddings (Resemblyzer's `embed_speaker`); the set score
is the mean of those values.
Axes: n samples, d embedding (256).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from kokoro_lab.audio.checks import as_mono, check_rate
from kokoro_lab.errors import UserValueError

log = logging.getLogger(__name__)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """a (d,), b (d,) -> cosine similarity."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class SpeakerSimilarity:
    """Resemblyzer speaker embeddings and their cosine similarity; the encoder loads once."""

    name = "resemblyzer_cosine"

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._encoder = None

    @property
    def encoder(self):
        """The resemblyzer.VoiceEncoder, loaded on first use."""
        if self._encoder is None:
            with warnings.catch_warnings():
                # resemblyzer imports scipy.ndimage.morphology, deprecated since SciPy 1.8
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    from resemblyzer import VoiceEncoder
                except ModuleNotFoundError as e:
                    raise ModuleNotFoundError(
                        f"speaker similarity needs resemblyzer ({e.name} is missing): "
                        "pip install --no-deps resemblyzer webrtcvad-wheels"
                    ) from e
            self._encoder = VoiceEncoder(self.device, verbose=False)
            log.info("loaded the Resemblyzer voice encoder on %s", self.device)
        return self._encoder

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """audio (n,) at sample_rate -> unit-norm embedding (d,)."""
        encoder = self.encoder  # imports resemblyzer, so preprocess_wav is importable below
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(as_mono(audio), source_sr=check_rate(sample_rate))
        if wav.size == 0:
            raise UserValueError(
                "no speech left after Resemblyzer's silence trimming: the clip is silent or "
                "too quiet to embed"
            )
        return encoder.embed_utterance(wav)

    def embed_set(self, audios: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        """[(n_i,)] -> (len, d) unit-norm embeddings."""
        if len(audios) == 0:
            raise UserValueError("embed_set got no clips: pass at least one")
        return np.stack([self.embed(a, sample_rate) for a in audios])

    def similarity(self, a: np.ndarray, b: np.ndarray, sample_rate: int) -> float:
        """a (n,), b (m,) at one sample_rate -> cosine similarity of their embeddings."""
        return cosine(self.embed(a, sample_rate), self.embed(b, sample_rate))

    def similarity_to_set(
        self, audios: Sequence[np.ndarray], references: Sequence[np.ndarray], sample_rate: int
    ) -> np.ndarray:
        """[(n_i,)] clips, [(m_j,)] reference clips -> (len(audios),) cosine of each clip to the
        reference centroid. Its mean is the set-to-set similarity."""
        centroid = self.embed_set(references, sample_rate).mean(axis=0)
        centroid /= np.linalg.norm(centroid)
        return self.embed_set(audios, sample_rate) @ centroid
