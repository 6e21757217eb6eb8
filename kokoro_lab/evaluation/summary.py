"""Aggregation of per-utterance rows: per system, and per phoneme-length bucket within a system.

Every aggregated number has its definition in `DEFINITIONS` (written into metrics.json and the
report). Error rates pool the counts before dividing (corpus WER, not a mean of per-utterance
rates); MOS and the reference metrics are means over utterances; RTF is total synthesis time
over total audio time. Confidence intervals: 95% percentile bootstrap over utterances for the
error rates (1000 resamples, fixed seed), normal approximation mean +- 1.96 s / sqrt(n) for MOS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from kokoro_lab.errors import UserValueError

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
Z_95 = 1.96

DEFINITIONS: dict[str, str] = {
    "wer": "word error rate, a fraction: (substitutions + deletions + insertions) / reference "
    "words, summed over all utterances before dividing; Whisper transcript vs the input text, "
    "both normalized by Whisper's English normaliser (lowercase, no punctuation, contractions "
    "expanded, numbers as digits: kokoro_lab.metrics.text_norm)",
    "wer_ci95": "95% percentile-bootstrap interval of wer, resampling utterances",
    "cer": "character error rate, a fraction: as wer over the characters of the normalized "
    "texts (spaces included)",
    "cer_ci95": "95% percentile-bootstrap interval of cer, resampling utterances",
    "mos": "predicted MOS, mean over utterances of DNSMOS P.835 OVRL (about 1..5, higher is "
    "better): see mos_predictor",
    "mos_ci95": "mos +- 1.96 standard deviations of the per-utterance OVRL / sqrt(n)",
    "mos_sig": "mean DNSMOS P.835 SIG (speech signal quality)",
    "mos_bak": "mean DNSMOS P.835 BAK (background noise; higher = less noise)",
    "mos_p808": "mean DNSMOS P.808 overall MOS",
    "rtf": "real-time factor of synthesis: total wall-clock seconds of Pipeline(text) (G2P + "
    "model, after one untimed warm-up utterance) / total seconds of audio produced; < 1 is "
    "faster than real time; depends on the machine and its load (see environment); null for "
    "recorded audio",
    "synthesis_s": "total wall-clock seconds spent synthesizing the set",
    "scoring_s": "total wall-clock seconds spent computing this system's metrics (ASR, MOS, "
    "speaker embedding, MCD, F0)",
    "peak_rss_mb": "largest extra resident memory (MiB) seen while synthesizing one utterance, "
    "over the RSS before it (psutil, polled every 10 ms)",
    "duration_s": "total seconds of audio",
    "words_per_minute": "60 * reference words / seconds of speech (leading and trailing "
    "silence trimmed at 40 dB below the peak), pooled over the set",
    "phonemes_per_second": "phoneme tokens of the text (espeak-ng, Kokoro vocabulary) / seconds "
    "of speech, pooled over the set",
    "speaker_sim": "mean over utterances of the cosine similarity between the utterance's "
    "Resemblyzer embedding and the L2-normalized centroid of the reference recordings' "
    "embeddings (1 = same voice)",
    "speaker_sim_paired": "mean cosine similarity of each utterance to its own reference "
    "recording (Resemblyzer embeddings)",
    "mcd_db": "mean over utterances of mel-cepstral distortion to the reference recording in "
    "dB (c1..c24 of an 80-band mel log-amplitude cepstrum, 10 ms hop, DTW-aligned; "
    "kokoro_lab.metrics.spectral)",
    "f0_rmse_cents": "mean over utterances of the F0 RMSE in cents over frames voiced in both "
    "(pyin 50-550 Hz, frames DTW-aligned on mel-cepstra; kokoro_lab.metrics.pitch)",
    "f0_rmse_hz": "as f0_rmse_cents, in Hz",
    "vuv_error": "mean over utterances of the fraction of aligned frames whose voiced/unvoiced "
    "decision differs from the reference",
    "n_utterances": "utterances scored",
    "mos_predictor": "the name of the MOS predictor behind mos (details under predictors)",
    "produced_by": "what produced the audio: checkpoint (path, sha256), voice (sha256 of the "
    "voicepack tensor), language, speed, seed and device; or the folder of WAVs scored",
    "by_length": "the same numbers within buckets of the text's phoneme-token count (espeak-ng "
    "phonemes of the text in the Kokoro vocabulary, the length that selects the voicepack row); "
    "bucket edges are the same for every system",
}

#: The fields of one row of `utterances` in metrics.json (the rest share DEFINITIONS' names).
UTTERANCE_DEFINITIONS: dict[str, str] = {
    "system": "the system's name",
    "index": "the utterance's 1-based number (NNNN of NNNN.wav)",
    "id": "the utterance id (NNNN, or the LJSpeech id)",
    "text": "what was to be said",
    "n_phonemes": "phoneme tokens of the text (espeak-ng, Kokoro vocabulary)",
    "phonemes": "the phonemes synthesized (null for recorded audio)",
    "transcript": "what Whisper heard, as output",
    "reference_normalized": "the text after scoring normalization",
    "transcript_normalized": "the transcript after scoring normalization",
    "word_errors": "substitutions + deletions + insertions, in words",
    "words": "words in the normalized text",
    "wer": "word_errors / words",
    "char_errors": "substitutions + deletions + insertions, in characters",
    "chars": "characters in the normalized text",
    "cer": "char_errors / chars",
    "mos": "DNSMOS P.835 OVRL of the clip",
    "mos_sig": "DNSMOS P.835 SIG of the clip",
    "mos_bak": "DNSMOS P.835 BAK of the clip",
    "mos_p808": "DNSMOS P.808 MOS of the clip",
    "duration_s": "seconds of audio",
    "speech_s": "seconds between the first and last non-silent 20 ms frame (40 dB below peak)",
    "words_per_minute": "60 * words / speech_s",
    "phonemes_per_second": "n_phonemes / speech_s",
    "synthesis_s": "wall-clock seconds of Pipeline(text) for this clip",
    "rtf": "synthesis_s / duration_s",
    "peak_rss_mb": "extra resident memory (MiB) while synthesizing this clip",
    "scoring_s": "wall-clock seconds spent computing this row's metrics",
    "speaker_sim": "cosine similarity of the clip's Resemblyzer embedding to the reference "
    "centroid",
    "speaker_sim_paired": "cosine similarity to the clip's own reference recording",
    "mcd_db": "MCD to the clip's reference recording (dB, DTW)",
    "f0_rmse_cents": "F0 RMSE to the reference over frames voiced in both (cents)",
    "f0_rmse_hz": "the same in Hz",
    "vuv_error": "fraction of aligned frames whose voicing differs from the reference",
}

#: Metrics averaged over utterances (nan rows skipped) -> summary key.
MEANS = (
    "mos",
    "mos_sig",
    "mos_bak",
    "mos_p808",
    "speaker_sim",
    "speaker_sim_paired",
    "mcd_db",
    "f0_rmse_cents",
    "f0_rmse_hz",
    "vuv_error",
)
#: What the per-bucket breakdown reports.
BUCKET_KEYS = ("n_utterances", "wer", "cer", "mos", "rtf")


def _finite(values) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def pooled_rate(errors: Sequence[int], lengths: Sequence[int]) -> float:
    return _ratio(float(np.sum(errors)), float(np.sum(lengths)))


def bootstrap_ci(errors: Sequence[int], lengths: Sequence[int]) -> list[float]:
    """95% percentile-bootstrap interval of sum(errors) / sum(lengths), resampling utterances."""
    e, n = np.asarray(errors, dtype=float), np.asarray(lengths, dtype=float)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, len(e), size=(BOOTSTRAP_RESAMPLES, len(e)))
    totals = n[picks].sum(axis=1)
    rates = np.where(totals > 0, e[picks].sum(axis=1) / np.maximum(totals, 1), 0.0)
    return [float(np.percentile(rates, 2.5)), float(np.percentile(rates, 97.5))]


def length_edges(counts: Sequence[int], buckets: int | Sequence[int]) -> list[int]:
    """Phoneme counts of the set + an int k (about equal-size quantile buckets) or explicit
    cut points -> sorted cut points c: bucket j holds counts in (c[j-1], c[j]]."""
    if isinstance(buckets, int):
        if buckets < 1:
            raise UserValueError(f"length_buckets={buckets} must be >= 1 (or a list of cut points)")
        q = np.quantile(np.asarray(counts, dtype=float), np.linspace(0, 1, buckets + 1)[1:-1])
        cuts = sorted({int(math.floor(c)) for c in q})
    else:
        cuts = sorted({int(c) for c in buckets})
    return [c for c in cuts if min(counts) <= c < max(counts)]


def bucket_label(n: int, cuts: Sequence[int], lo: int, hi: int) -> str:
    """The bucket of phoneme count n, as "a-b" phonemes, given the set's min lo and max hi."""
    j = int(np.searchsorted(cuts, n, side="left"))
    start = lo if j == 0 else cuts[j - 1] + 1
    end = hi if j == len(cuts) else cuts[j]
    return f"{start}-{end}" if start < end else f"{start}"


def summarize_rows(rows: Sequence[dict]) -> dict:
    """Rows of one system (or one bucket of it) -> aggregated numbers (see DEFINITIONS)."""
    if not rows:
        raise UserValueError("summarize_rows got no rows")
    out: dict = {"n_utterances": len(rows)}
    for unit, key in (("word", "wer"), ("char", "cer")):
        errors = [r[f"{unit}_errors"] for r in rows]
        lengths = [r[f"{unit}s"] for r in rows]
        out[key] = pooled_rate(errors, lengths)
        out[f"{key}_ci95"] = bootstrap_ci(errors, lengths)
    mos = _finite(r["mos"] for r in rows)
    half = Z_95 * mos.std(ddof=1) / math.sqrt(len(mos)) if len(mos) > 1 else math.nan
    out["mos_ci95"] = [float(mos.mean() - half), float(mos.mean() + half)]
    for key in MEANS:
        values = _finite(r.get(key) for r in rows)
        if values.size:
            out[key] = float(values.mean())
        elif any(key in r for r in rows):
            out[key] = math.nan
    synthesis = _finite(r["synthesis_s"] for r in rows)
    duration = float(sum(r["duration_s"] for r in rows))
    out["rtf"] = float(synthesis.sum() / duration) if synthesis.size == len(rows) else None
    out["synthesis_s"] = float(synthesis.sum()) if synthesis.size == len(rows) else None
    out["scoring_s"] = float(sum(r.get("scoring_s", 0.0) for r in rows))
    peaks = _finite(r["peak_rss_mb"] for r in rows)
    out["peak_rss_mb"] = float(peaks.max()) if peaks.size else None
    out["duration_s"] = duration
    speech = float(sum(r["speech_s"] for r in rows))
    out["words_per_minute"] = 60.0 * _ratio(sum(r["words"] for r in rows), speech)
    out["phonemes_per_second"] = _ratio(sum(r["n_phonemes"] for r in rows), speech)
    return out


def summarize_systems(
    rows: Sequence[dict], systems: Sequence[str], buckets: int | Sequence[int] = 3
) -> tuple[dict[str, dict], list[int]]:
    """All rows -> ({system: summary with a "by_length" breakdown}, the bucket cut points)."""
    counts = [r["n_phonemes"] for r in rows]
    cuts = length_edges(counts, buckets)
    lo, hi = min(counts), max(counts)
    out = {}
    for name in systems:
        mine = [r for r in rows if r["system"] == name]
        if not mine:
            continue
        summary = summarize_rows(mine)
        by_length = {}
        for row in sorted(mine, key=lambda r: r["n_phonemes"]):
            by_length.setdefault(bucket_label(row["n_phonemes"], cuts, lo, hi), []).append(row)
        summary["by_length"] = {
            label: {k: summarize_rows(group)[k] for k in BUCKET_KEYS}
            for label, group in by_length.items()
        }
        out[name] = summary
    return out, cuts
