"""PNG figures of an evaluation: per-system metric bars, the per-utterance WER distribution,
metrics by phoneme-length bucket, and the mel spectrogram and F0 contour of sample utterances.

matplotlib's object API only (no pyplot, no global backend switch): figures are built and saved
without touching the caller's plotting state. Each system keeps one colour in every figure.
Axes: n samples, m mel bands, f frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kokoro_lab.metrics.pitch import F0Metrics

DPI = 110
MEL_BANDS = 80
MEL_FFT = 1024
MEL_HOP = 240  # 10 ms at 24 kHz, the metrics' hop
HZ_TICKS = (250, 500, 1000, 2000, 4000, 8000)

#: (summary key, axis label, scale, "lower"/"higher" is better)
BAR_METRICS = (
    ("wer", "WER (%)", 100.0, "lower"),
    ("cer", "CER (%)", 100.0, "lower"),
    ("mos", "DNSMOS OVRL", 1.0, "higher"),
    ("rtf", "real-time factor", 1.0, "lower"),
    ("words_per_minute", "words per minute", 1.0, None),
    ("speaker_sim", "speaker similarity", 1.0, "higher"),
    ("mcd_db", "MCD (dB)", 1.0, "lower"),
    ("f0_rmse_cents", "F0 RMSE (cents)", 1.0, "lower"),
    ("vuv_error", "V/UV error (%)", 100.0, "lower"),
)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def system_colors(names: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def metric_bars(summary: dict[str, dict], path: Path) -> Path:
    """One bar panel per metric that some system has, one bar per system (95% CI whiskers for
    WER, CER and MOS)."""
    names = list(summary)
    colors = system_colors(names)
    metrics = [m for m in BAR_METRICS if any(_finite(s.get(m[0])) for s in summary.values())]
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = _figure(4.2 * cols, 0.6 + 3.2 * rows)
    x = np.arange(len(names))
    for k, (key, label, scale, better) in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, k + 1)
        values = [summary[n].get(key) for n in names]
        heights = [v * scale if _finite(v) else 0.0 for v in values]
        ax.bar(x, heights, color=[colors[n] for n in names])
        tops = list(heights)
        ci = [summary[n].get(f"{key}_ci95") for n in names]
        if all(c is not None and all(map(_finite, c)) for c in ci):
            lo = [max(0.0, h - c[0] * scale) for h, c in zip(heights, ci, strict=True)]
            hi = [max(0.0, c[1] * scale - h) for h, c in zip(heights, ci, strict=True)]
            ax.errorbar(x, heights, yerr=[lo, hi], fmt="none", ecolor="black", capsize=3, lw=1)
            tops = [h + u for h, u in zip(heights, hi, strict=True)]
        for xi, top, value in zip(x, tops, values, strict=True):  # labels clear the whiskers
            text = f"{value * scale:.3g}" if _finite(value) else "n/a"
            ax.annotate(
                text,
                (xi, top),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(f"{label}" + (f"  ({better} is better)" if better else ""), fontsize=10)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.18 * max(tops) if max(tops) > 0 else 1.0)  # all-zero panels too
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Metrics by system (whiskers: 95% CI)", fontsize=12)
    fig.savefig(path)
    return path


def wer_distribution(rows: Sequence[dict], names: Sequence[str], path: Path) -> Path:
    """Per-utterance WER (%) per system: a box (quartiles, median) over the jittered points."""
    colors = system_colors(names)
    fig = _figure(max(5.0, 1.3 * len(names) + 2), 4.2)
    ax = fig.add_subplot()
    data = [[100 * r["wer"] for r in rows if r["system"] == n] for n in names]
    ax.boxplot(
        data,
        positions=range(len(names)),
        widths=0.5,
        showfliers=False,
        medianprops={"color": "black", "lw": 1.5},
    )
    rng = np.random.default_rng(0)
    for i, (name, values) in enumerate(zip(names, data, strict=True)):
        jitter = rng.uniform(-0.18, 0.18, len(values))
        ax.scatter(i + jitter, values, s=14, color=colors[name], alpha=0.8, zorder=3)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel("WER per utterance (%)")
    ax.set_title("WER distribution (one point per utterance)")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path)
    return path


def by_length(summary: dict[str, dict], path: Path) -> Path:
    """WER and MOS per phoneme-length bucket, one line per system."""
    names = list(summary)
    colors = system_colors(names)
    labels = list(dict.fromkeys(b for s in summary.values() for b in s["by_length"]))
    labels.sort(key=lambda b: int(b.split("-")[0]))
    fig = _figure(10, 3.8)
    for k, (key, title, scale) in enumerate((("wer", "WER (%)", 100), ("mos", "DNSMOS OVRL", 1))):
        ax = fig.add_subplot(1, 2, k + 1)
        for name in names:
            buckets = summary[name]["by_length"]
            y = [buckets[b][key] * scale if b in buckets else np.nan for b in labels]
            ax.plot(labels, y, marker="o", color=colors[name], label=name)
        ax.set_xlabel("phonemes in the text")
        ax.set_title(f"{title} by utterance length")
        ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    counts = [summary[names[0]]["by_length"].get(b, {}).get("n_utterances", 0) for b in labels]
    fig.suptitle(
        "Utterances per bucket: " + ", ".join(f"{b}: {n}" for b, n in zip(labels, counts)),
        fontsize=9,
    )
    fig.savefig(path)
    return path


def _mel_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """audio (n,) -> log-mel power (m, f) in dB relative to the clip's peak."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=sample_rate, n_fft=MEL_FFT, hop_length=MEL_HOP, n_mels=MEL_BANDS
    )
    return librosa.power_to_db(mel, ref=np.max, top_db=80.0)


def _hz_to_band(hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Frequencies in Hz -> fractional mel-band positions (the spectrogram's y axis)."""
    import librosa

    centers = librosa.mel_frequencies(n_mels=MEL_BANDS + 2, fmax=sample_rate / 2)[1:-1]
    return np.interp(librosa.hz_to_mel(hz), librosa.hz_to_mel(centers), np.arange(MEL_BANDS))


def sample_figure(
    title: str,
    clips: Sequence[tuple[str, np.ndarray, int]],
    colors: dict[str, tuple],
    path: Path,
    f0: F0Metrics | None = None,
) -> Path:
    """[(label, audio (n,), sample rate)] of one utterance -> a mel spectrogram per clip with
    its F0 (pyin) drawn over it, and a last panel with every clip's F0 contour in Hz."""
    f0 = f0 or F0Metrics()
    fig = _figure(10, 1.9 * len(clips) + 2.6)
    grid = fig.add_gridspec(len(clips) + 1, 1, height_ratios=[1.0] * len(clips) + [1.3])
    contours, axes = [], []
    end = max(len(a) / sr for _, a, sr in clips)
    for k, (label, audio, sr) in enumerate(clips):
        ax = fig.add_subplot(grid[k])
        axes.append(ax)
        mel = _mel_db(audio, sr)
        seconds = len(audio) / sr
        image = ax.imshow(
            mel,
            origin="lower",
            aspect="auto",
            extent=(0, seconds, 0, MEL_BANDS),
            cmap="magma",
            vmin=-80,
            vmax=0,
        )
        hz, voiced = f0.f0(audio, sr)
        t = np.arange(len(hz)) * f0.hop_length / f0.sample_rate
        track = np.where(voiced, hz, np.nan)
        contours.append((label, t, track))
        ax.plot(t, _hz_to_band(track, sr), color="cyan", lw=1.4, label="F0 (pyin)")
        ticks = [h for h in HZ_TICKS if h < sr / 2]
        ax.set_yticks(_hz_to_band(np.array(ticks, dtype=float), sr), [f"{h:g}" for h in ticks])
        ax.set_ylabel("Hz (mel)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlim(0, end)
        ax.set_facecolor("0.9")  # grey after a clip's end: shorter than the longest clip
        ax.set_title(label, fontsize=9, loc="left", color=colors.get(label, "black"))
        if k == 0:
            ax.legend(loc="upper right", fontsize=7)
    ax = fig.add_subplot(grid[-1])
    # one colour bar beside every panel keeps the time axes aligned
    fig.colorbar(image, ax=[*axes, ax], label="dB", pad=0.01, shrink=0.6)
    for label, t, track in contours:
        ax.plot(t, track, lw=1.5, color=colors.get(label, "black"), label=label)
    ax.set_xlim(0, end)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("F0 (Hz)")
    ax.set_title("F0 contours (voiced frames)", fontsize=9, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=min(len(contours), 4), loc="upper right")
    fig.suptitle(title, fontsize=10)
    fig.savefig(path)
    return path
