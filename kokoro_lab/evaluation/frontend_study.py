"""Which English front end makes a voice most intelligible: Whisper WER per voice x G2P mode.

Axes: n samples.

Every voice speaks the same sentences once per G2P mode (`misaki`, `espeak`: our espeak-to-misaki
mapping, `espeak-ipa`: kokoro-onnx's raw espeak IPA; see `kokoro_lab.text.frontend`) through
`Pipeline(model, voice, lang, seed, g2p=mode)`; Whisper (`WhisperASR`, tiny.en by default)
transcribes each clip and `kokoro_lab.metrics.error_rate` scores it. Everything else is held
fixed: one model, one recognizer, the same seed (so the excitation noise of chunk i is the same
in every mode), greedy decoding by default (as tests/test_intelligibility.py decodes).

Numbers (`frontend_study`):
    wer, cer       corpus rates (summed errors / summed reference words or characters)
    pooled         the same summed over all voices, per mode
    best           per voice, the mode with the lowest WER (ties: lower CER, then listed order)
    pairwise       per voice and pair of modes "a vs b": [sentences where a made fewer word
                   errors, where b did, ties]; a sign test on these says whether a WER gap is
                   more than chance (with 100 sentences, a 1-point gap is usually not)
    phonemes       per mode, what the model was given for each sentence (voice-independent)
    utterances     per voice and mode, each sentence's transcript and word errors

`measure_frontends(cfg)` is the task behind scripts/measure_frontends.py: it runs the study on
Harvard sentences, adds the machine (torch CPU capability, threads, load) and wall time, and
writes the JSON and the Markdown table (`markdown_report`).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from kokoro_lab.errors import UserValueError
from kokoro_lab.evaluation import machine
from kokoro_lab.hub import EMBEDDED_VOICES
from kokoro_lab.metrics.error_rate import error_counts

log = logging.getLogger(__name__)

MODES = ("misaki", "espeak", "espeak-ipa")
#: Harvard sentences 31-130 (lists 4-13): after the 20 that tests/test_intelligibility.py, the
#: default evaluation and the benchmark speak, and the 30 that voicepack fine-tuning trains on
#: (101-110 are also the voicepack measurement's held-out set; nothing is trained here).
DEFAULT_START = 30
DEFAULT_COUNT = 100
#: A mode is "intelligible" for a voice below this WER (the CI check).
INTELLIGIBLE_WER = 0.5


def _cell(texts: list[str], hyps: list[str]) -> dict:
    """Scores of one (voice, mode): corpus WER/CER, counts, and one row per sentence."""
    words = error_counts(texts, hyps, "word")
    chars = error_counts(texts, hyps, "char")
    rows = [
        {"transcript": hyp, "word_errors": u.errors, "words": u.reference_length}
        for hyp, u in zip(hyps, words.utterances, strict=True)
    ]
    return {
        "wer": words.rate,
        "cer": chars.rate,
        "word_errors": words.errors,
        "words": words.reference_length,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "char_errors": chars.errors,
        "chars": chars.reference_length,
        "utterances": rows,
    }


def _best(cells: dict[str, dict], modes: Sequence[str]) -> str:
    return min(modes, key=lambda m: (cells[m]["wer"], cells[m]["cer"], modes.index(m)))


def _pairwise(cells: dict[str, dict], modes: Sequence[str]) -> dict[str, list[int]]:
    """ "a vs b" -> [sentences where a has fewer word errors, where b has, ties]."""
    out = {}
    for a, b in itertools.combinations(modes, 2):
        pairs = zip(cells[a]["utterances"], cells[b]["utterances"], strict=True)
        diffs = [ua["word_errors"] - ub["word_errors"] for ua, ub in pairs]
        out[f"{a} vs {b}"] = [
            sum(d < 0 for d in diffs),
            sum(d > 0 for d in diffs),
            sum(d == 0 for d in diffs),
        ]
    return out


def _pooled(results: dict[str, dict[str, dict]], modes: Sequence[str]) -> dict[str, dict]:
    out = {}
    for mode in modes:
        cells = [results[v][mode] for v in results]
        errors, words = sum(c["word_errors"] for c in cells), sum(c["words"] for c in cells)
        char_errors, chars = sum(c["char_errors"] for c in cells), sum(c["chars"] for c in cells)
        out[mode] = {
            "wer": errors / words if words else 0.0,
            "cer": char_errors / chars if chars else 0.0,
            "word_errors": errors,
            "words": words,
        }
    return out


def frontend_study(
    voices: Sequence[str],
    modes: Sequence[str],
    sentences: Sequence[str],
    *,
    model=None,
    asr=None,
    lang: str = "en-us",
    seed: int = 0,
    batch_size: int = 4,
) -> dict:
    """Each voice speaks `sentences` in each G2P mode; Whisper WER/CER per (voice, mode).

    voices: voice names for `kokoro_lab.voices.load_voice` (e.g. EMBEDDED_VOICES).
    modes: G2P modes ("misaki", "espeak", "espeak-ipa").
    model: a KokoroModel (default: `load_model()`, loaded once); asr: a `WhisperASR` (default:
        tiny.en, greedy). Returns the dict the module doc describes (results[voice][mode] holds
        wer, cer, counts, synth_s, asr_s, audio_s and the per-sentence rows).
    """
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    voices, modes, texts = list(voices), list(modes), list(sentences)
    if not voices or not modes or not texts:
        raise UserValueError(
            f"got {len(voices)} voices, {len(modes)} modes and {len(texts)} sentences: pass at "
            "least one of each"
        )
    for name, values in (("voices", voices), ("modes", modes)):
        if len(set(values)) != len(values):
            raise UserValueError(f"{name} {values} repeat an entry: list each one once")
    model, asr = machine.model_and_asr(model, asr)

    results: dict[str, dict[str, dict]] = {}
    phonemes: dict[str, list[str]] = {}
    for voice_name in voices:
        voice = load_voice(voice_name)
        results[voice_name] = {}
        for mode in modes:
            pipeline = Pipeline(model, voice, lang=lang, seed=seed, g2p=mode)
            spoken, hyps, timing = machine.speak_and_transcribe(pipeline, asr, texts, batch_size)
            ps = [s.phonemes for s in spoken]
            # the front end does not depend on the voice: one phoneme list per mode
            assert phonemes.setdefault(mode, ps) == ps, f"{mode} phonemes differ across voices"
            cell = _cell(texts, hyps)
            cell.update(timing)
            results[voice_name][mode] = cell
            log.info(
                "%s %s: WER %.3f CER %.3f (%d sentences, synth %.1f s, asr %.1f s)",
                voice_name,
                mode,
                cell["wer"],
                cell["cer"],
                len(texts),
                timing["synth_s"],
                timing["asr_s"],
            )
    return {
        "lang": lang,
        "seed": seed,
        "batch_size": batch_size,
        "asr": machine.asr_settings(asr),
        "voices": voices,
        "modes": modes,
        "sentences": texts,
        "results": results,
        "pooled": _pooled(results, modes),
        "best": {v: _best(results[v], modes) for v in voices},
        "pairwise": {v: _pairwise(results[v], modes) for v in voices},
        "phonemes": phonemes,
    }


# --- report ------------------------------------------------------------------------------------


def markdown_report(study: dict) -> str:
    """The study as Markdown: WER (CER) % per voice and mode, best per voice in bold, the pooled
    row, the pairwise sentence counts, and how the numbers were made."""
    modes, results = study["modes"], study["results"]
    lines = [
        "# English front ends: intelligibility of the embedded voices",
        "",
        "Whisper WER % (CER % in parentheses) of each voice speaking the same sentences through "
        "each G2P mode; lower is better, the best mode per voice in bold.",
        "",
        "| voice | " + " | ".join(modes) + " | best |",
        "| --- | " + " | ".join("---:" for _ in modes) + " | --- |",
    ]
    for voice, cells in results.items():
        best = study["best"][voice]
        row = []
        for mode in modes:
            text = f"{machine.pct(cells[mode]['wer'])} ({machine.pct(cells[mode]['cer'])})"
            row.append(f"**{text}**" if mode == best else text)
        lines.append(f"| {voice} | " + " | ".join(row) + f" | {best} |")
    pooled = study["pooled"]
    pooled_best = min(modes, key=lambda m: (pooled[m]["wer"], pooled[m]["cer"]))
    row = [f"{machine.pct(pooled[m]['wer'])} ({machine.pct(pooled[m]['cer'])})" for m in modes]
    lines.append("| all voices | " + " | ".join(row) + f" | {pooled_best} |")

    pairs = list(next(iter(study["pairwise"].values())))
    lines += [
        "",
        "Sentences where the first mode of a pair made fewer word errors / the second did / "
        "ties (a sign test on the first two numbers tells a real gap from noise):",
        "",
        "| voice | " + " | ".join(pairs) + " |",
        "| --- | " + " | ".join("---:" for _ in pairs) + " |",
    ]
    for voice, counts in study["pairwise"].items():
        lines.append(
            f"| {voice} | " + " | ".join("/".join(map(str, counts[p])) for p in pairs) + " |"
        )

    sent = study.get("sentence_source")
    env = study.get("environment", {})
    asr = study["asr"]
    n = len(study["sentences"])
    if sent:
        text = (
            f"Harvard sentences {sent['first']}-{sent['last']} of lists 1-36 ({n} sentences, "
            f"sha256 {sent['sha256'][:12]}...)"
        )
    else:
        text = f"{n} sentences"
    lines += [
        "",
        "## How",
        "",
        f"- Text: {text}, language {study['lang']}.",
        f"- Synthesis: `Pipeline(model, voice, lang={study['lang']!r}, seed={study['seed']}, "
        f"g2p=MODE).synthesize_batch(texts, batch_size={study['batch_size']})`, the embedded "
        "Kokoro-82M v1.0 weights.",
        f"- Recognition: Whisper tiny.en (CTranslate2 int8, faster-whisper), beam size "
        f"{asr['beam_size']}, temperature 0; WER/CER from `kokoro_lab.metrics.error_rate` "
        "(both sides normalized by Whisper's English normaliser, `whisper-normalizer`).",
        "- Modes: `misaki` misaki's English G2P (what v1.0 was trained on); `espeak` our espeak-ng "
        "output mapped to misaki's symbols; `espeak-ipa` raw espeak-ng IPA filtered to the "
        "vocabulary, exactly as kokoro-onnx feeds it.",
    ]
    if env:
        lines.append(
            f"- Machine: torch CPU capability {env.get('cpu_capability')}, "
            f"{env.get('torch_threads')} torch threads, {env.get('cpu_count')} CPUs; wall time "
            f"{study.get('wall_s', 0):.0f} s ({study.get('s_per_clip', 0):.2f} s per clip: "
            "synthesis + recognition)."
        )
    lines += [
        "- Per-sentence transcripts and phonemes: the JSON next to this file.",
        "",
    ]
    return "\n".join(lines)


# --- the task ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyConfig:
    """What scripts/measure_frontends.py runs (see its --help)."""

    voices: tuple[str, ...] = EMBEDDED_VOICES
    modes: tuple[str, ...] = MODES
    num_sentences: int = DEFAULT_COUNT
    start: int = DEFAULT_START
    lang: str = "en-us"
    seed: int = 0
    batch_size: int = 4
    beam_size: int = 1
    threads: int | None = None
    output_json: str = "docs/frontend_intelligibility.json"
    output_md: str = "docs/frontend_intelligibility.md"


#: The software whose versions the study records (besides torch).
PACKAGES = ("phonemizer", "espeakng-loader", "misaki", "faster-whisper")


def measure_frontends(cfg: StudyConfig) -> dict:
    """Run the study on Harvard sentences, write cfg.output_json and cfg.output_md; returns the
    study dict (with `environment`, `wall_s` and `sentence_source` added)."""
    from kokoro_lab.evaluation.sets import harvard_set
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.runtime import process_state

    eval_set = harvard_set(cfg.num_sentences, cfg.start)  # checks the range
    machine.check_output_folders((cfg.output_json, cfg.output_md))
    started = time.perf_counter()
    with process_state(threads=cfg.threads):  # which checks that threads is positive
        env = machine.environment(PACKAGES)
        asr = WhisperASR(beam_size=cfg.beam_size, threads=env["torch_threads"])
        study = frontend_study(
            cfg.voices,
            cfg.modes,
            eval_set.texts,
            asr=asr,
            lang=cfg.lang,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
        )
    wall_s = time.perf_counter() - started
    clips = len(cfg.voices) * len(cfg.modes) * cfg.num_sentences
    study = {
        "question": "Which English front end makes each voice most intelligible?",
        **study,
        "sentence_source": {
            **eval_set.source,
            "first": cfg.start + 1,
            "last": cfg.start + cfg.num_sentences,
        },
        "config": asdict(cfg),
        "environment": {**env, "load_average_1_5_15min_after": list(os.getloadavg())},
        "wall_s": wall_s,
        "s_per_clip": wall_s / clips,
    }
    machine.write_study(study, cfg.output_json, cfg.output_md, markdown_report)
    return study
