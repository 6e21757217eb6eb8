"""Per-utterance scoring: one row of numbers for one (system, utterance) pair.

Reference-free, for every system: Whisper transcript, word and character errors against the
text, DNSMOS (OVRL, SIG, BAK, P.808), duration and speaking rate, and for synthesis its wall
time, real-time factor and peak memory. With a reference recording for the utterance: speaker
similarity (to the reference-set centroid and to the paired recording), MCD with DTW, F0 RMSE
and V/UV error. The definitions of the numbers are in `kokoro_lab.evaluation.summary`.
Axes: n samples, d speaker embedding.
"""

from __future__ import annotations

import logging

import numpy as np

from kokoro_lab.audio.io import read_audio
from kokoro_lab.evaluation.sets import EvalItem, EvalSet
from kokoro_lab.evaluation.systems import Rendered
from kokoro_lab.metrics import (
    DNSMOS,
    F0Metrics,
    MelCepstralDistortion,
    SpeakerSimilarity,
    SpeakingRate,
    WhisperASR,
    error_counts,
)
from kokoro_lab.metrics.speaker import cosine

log = logging.getLogger(__name__)

NAN = float("nan")
MIB = 2**20


class UtteranceScorer:
    """Holds the metric models (each loads once) and scores rendered utterances.

    asr: the recognizer behind WER/CER; mos: the MOS predictor; the reference-based metrics are
    only used when the evaluation set has recordings (`prepare`).
    """

    def __init__(
        self,
        asr: WhisperASR | None = None,
        mos: DNSMOS | None = None,
        speaker: SpeakerSimilarity | None = None,
        mcd: MelCepstralDistortion | None = None,
        f0: F0Metrics | None = None,
        rate: SpeakingRate | None = None,
    ):
        self.asr = asr or WhisperASR(beam_size=1)
        self.mos = mos or DNSMOS()
        self.speaker = speaker or SpeakerSimilarity()
        self.mcd = mcd or MelCepstralDistortion()
        self.f0 = f0 or F0Metrics()
        self.rate = rate or SpeakingRate()
        self._references: dict[int, tuple[np.ndarray, int]] = {}
        self._ref_embeddings: dict[int, np.ndarray] = {}
        self._centroid: np.ndarray | None = None

    def prepare(self, eval_set: EvalSet) -> None:
        """Load the reference recordings of the set and their speaker embeddings (once)."""
        if not eval_set.has_references:
            return
        for item in eval_set.items:
            if item.reference is not None:
                audio, rate = read_audio(item.reference)
                self._references[item.index] = (audio, rate)
                self._ref_embeddings[item.index] = self.speaker.embed(audio, rate)
        centroid = np.mean(list(self._ref_embeddings.values()), axis=0)
        self._centroid = centroid / np.linalg.norm(centroid)
        log.info("embedded %d reference recordings", len(self._ref_embeddings))

    def reference(self, item: EvalItem) -> tuple[np.ndarray, int] | None:
        return self._references.get(item.index)

    def _embed(self, rendered: Rendered) -> np.ndarray | None:
        try:
            return self.speaker.embed(rendered.audio, rendered.sample_rate)
        except ValueError as err:  # silent output: no speaker to compare, the row says nan
            log.warning("speaker embedding failed: %s", err)
            return None

    def score(self, system, item: EvalItem, rendered: Rendered, n_phonemes: int) -> dict:
        """One utterance of one system -> a flat row (floats are nan where undefined)."""
        audio, sr = rendered.audio, rendered.sample_rate
        transcript = self.asr.transcribe(audio, sr)
        words = error_counts(item.text, transcript, "word").utterances[0]
        chars = error_counts(item.text, transcript, "char").utterances[0]
        mos = self.mos.scores(audio, sr)
        timing = self.rate(audio, sr, n_words=words.reference_length, n_phonemes=n_phonemes)
        row = {
            "system": system.name,
            "index": item.index,
            "id": item.id,
            "text": item.text,
            "n_phonemes": n_phonemes,
            "phonemes": rendered.phonemes,
            "transcript": transcript,
            "reference_normalized": words.reference,
            "transcript_normalized": words.hypothesis,
            "word_errors": words.errors,
            "words": words.reference_length,
            "wer": words.rate,
            "char_errors": chars.errors,
            "chars": chars.reference_length,
            "cer": chars.rate,
            "mos": mos.ovrl,
            "mos_sig": mos.sig,
            "mos_bak": mos.bak,
            "mos_p808": mos.p808,
            "duration_s": timing.duration_s,
            "speech_s": timing.speech_s,
            "words_per_minute": timing.words_per_minute,
            "phonemes_per_second": timing.phonemes_per_second,
            "synthesis_s": rendered.synthesis_s if rendered.synthesis_s is not None else NAN,
            "rtf": (
                rendered.synthesis_s / timing.duration_s
                if rendered.synthesis_s is not None
                else NAN
            ),
            "peak_rss_mb": (
                rendered.peak_rss_bytes / MIB if rendered.peak_rss_bytes is not None else NAN
            ),
        }
        row.update(self._reference_scores(system, item, rendered))
        return row

    def _reference_scores(self, system, item: EvalItem, rendered: Rendered) -> dict:
        ref = self.reference(item)
        if ref is None:
            return {}
        embedding = self._embed(rendered)
        out = {
            "speaker_sim": cosine(embedding, self._centroid) if embedding is not None else NAN,
            "speaker_sim_paired": NAN,
            "mcd_db": NAN,
            "f0_rmse_cents": NAN,
            "f0_rmse_hz": NAN,
            "vuv_error": NAN,
        }
        if system.kind == "references":  # paired against itself: trivially 1 and 0
            return out
        ref_audio, ref_rate = ref
        audio = rendered.audio
        if ref_rate != rendered.sample_rate:  # the paired metrics take one rate
            from kokoro_lab.audio.checks import resample

            audio = resample(audio, rendered.sample_rate, ref_rate)
        pitch = self.f0(ref_audio, audio, ref_rate)
        out.update(
            speaker_sim_paired=(
                cosine(embedding, self._ref_embeddings[item.index])
                if embedding is not None
                else NAN
            ),
            mcd_db=self.mcd(ref_audio, audio, ref_rate),
            f0_rmse_cents=pitch.rmse_cents,
            f0_rmse_hz=pitch.rmse_hz,
            vuv_error=pitch.vuv_error,
        )
        return out
