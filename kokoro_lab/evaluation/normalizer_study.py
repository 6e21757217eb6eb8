"""What the switch to Whisper's WER normaliser does to our numbers: old and new rules, same audio.

Axes: none (texts, transcripts and counts).

Each voice speaks each text set once through `Pipeline(model, voice, lang, seed)` (the voice's
own English front end, as `scripts/infer.py` runs it), Whisper transcribes each clip once, and
the same (text, transcript) pairs are scored twice by `kokoro_lab.metrics.error_rate`:

    previous   the rules WER was scored with before: `PREVIOUS_RULES` (numbers spelled out as
               words, apostrophes deleted, punctuation to spaces; still what `count_words` reads)
    whisper    Whisper's English normaliser (`english_normalizer`, the rules now in force)

Numbers (`normalizer_study`):
    results[voice][set]   per rule: wer, cer, word and char error counts and lengths; the
                          front-end mode, the transcripts, and the sentences whose word errors
                          differ between the rules (`changed`, both normalized forms shown)
    pooled[set]           the same summed over voices
    frontend_rescored     docs/frontend_intelligibility.json's stored transcripts (every voice x
                          G2P mode) rescored with both rules: what its table reads with the new
                          rules, with no new synthesis; `reproduced` counts how many of our
                          transcripts equal the stored ones for the same voice, mode and text

`measure_normalizer(cfg)` is the task behind scripts/measure_normalizer.py: it runs the study,
adds the machine and wall time, and writes the JSON and the Markdown report (`markdown_report`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from kokoro_lab.errors import UserFileError, UserValueError
from kokoro_lab.evaluation import machine
from kokoro_lab.hub import DEFAULT_VOICE
from kokoro_lab.metrics.error_rate import error_counts
from kokoro_lab.metrics.text_norm import english_normalizer, spoken_form

log = logging.getLogger(__name__)

#: The previous WER normalization, labelled for this comparison. It is the same function as
#: `kokoro_lab.metrics.text_norm.spoken_form` (kept there for word counts), not a copy.
PREVIOUS_RULES: Callable[[str], str] = spoken_form
RULES = ("previous", "whisper")
#: whisper-normalizer 0.1.15's rules that openai/whisper's normaliser lacks: transcripts or texts
#: holding one of these words are counted, to show whether the difference touched our numbers.
NOT_UPSTREAM = ("kinda", "sorta", "dunno", "cause")
_NOT_UPSTREAM = re.compile(r"\b(" + "|".join(NOT_UPSTREAM) + r")\b")  # as those rules match
#: Harvard sentences 31-130, as docs/frontend_intelligibility.md (so its numbers are covered).
HARVARD_START = 30
HARVARD_COUNT = 100
SETS = ("harvard", "numbers")


def text_sets(names: Sequence[str], harvard_count: int, harvard_start: int) -> dict[str, list]:
    """{"harvard": Harvard sentences start+1 .. start+count, "numbers": the 40 lines of numbers,
    dates and heteronyms} for the names asked."""
    from kokoro_lab.evaluation.sets import harvard_set
    from kokoro_lab.evaluation.texts import numbers_dates_sentences

    unknown = sorted(set(names) - set(SETS))
    if unknown or not names:
        raise UserValueError(f"text sets {list(names)}: choose from {list(SETS)}")
    out = {}
    for name in names:
        if name == "harvard":
            out[name] = harvard_set(harvard_count, harvard_start).texts
        else:
            out[name] = numbers_dates_sentences()
    return out


def _counts(texts: list[str], hyps: list[str], normalize: Callable[[str], str]) -> tuple:
    words = error_counts(texts, hyps, "word", normalize=normalize)
    chars = error_counts(texts, hyps, "char", normalize=normalize)
    return words, chars


def score_both(texts: Sequence[str], hyps: Sequence[str]) -> dict:
    """The same (text, transcript) pairs under both rules: {rule: {wer, cer, counts}} plus
    `changed`, one row per sentence whose word errors differ (normalized forms and errors)."""
    texts, hyps = list(texts), list(hyps)
    scored = {
        "previous": _counts(texts, hyps, PREVIOUS_RULES),
        "whisper": _counts(texts, hyps, english_normalizer()),
    }
    out: dict = {}
    for rule, (words, chars) in scored.items():
        out[rule] = {
            "wer": words.rate,
            "cer": chars.rate,
            "word_errors": words.errors,
            "words": words.reference_length,
            "char_errors": chars.errors,
            "chars": chars.reference_length,
        }
    old_rows, new_rows = scored["previous"][0].utterances, scored["whisper"][0].utterances
    out["changed"] = [
        {
            "index": i,
            "text": text,
            "transcript": hyp,
            "previous": {"reference": o.reference, "hypothesis": o.hypothesis, "errors": o.errors},
            "whisper": {"reference": n.reference, "hypothesis": n.hypothesis, "errors": n.errors},
        }
        for i, (text, hyp, o, n) in enumerate(zip(texts, hyps, old_rows, new_rows, strict=True))
        if o.errors != n.errors
    ]
    out["not_upstream_words"] = sum(bool(_NOT_UPSTREAM.search(s.lower())) for s in texts + hyps)
    return out


def _pool(cells: Sequence[dict]) -> dict:
    out = {}
    for rule in RULES:
        sums = {
            k: sum(c[rule][k] for c in cells)
            for k in ("word_errors", "words", "char_errors", "chars")
        }
        out[rule] = {
            "wer": sums["word_errors"] / sums["words"],
            "cer": sums["char_errors"] / sums["chars"],
            **sums,
        }
    return out


def normalizer_study(
    voices: Sequence[str],
    sets: dict[str, list[str]],
    *,
    model=None,
    asr=None,
    lang: str = "en-us",
    seed: int = 0,
    batch_size: int = 4,
) -> dict:
    """Each voice speaks each set once; each clip is transcribed once and scored by both rules.

    voices: names for `kokoro_lab.voices.load_voice`; sets: {name: texts} (see `text_sets`).
    model: a KokoroModel (default: `load_model()`); asr: a `WhisperASR` (default: tiny.en,
    greedy). Returns the dict the module doc describes (without `frontend_rescored`).
    """
    from kokoro_lab.pipeline import Pipeline
    from kokoro_lab.voices import load_voice

    voices = list(voices)
    if not voices or not sets or not all(sets.values()):
        raise UserValueError(
            f"got {len(voices)} voices and sets { ({k: len(v) for k, v in sets.items()}) }: pass "
            "at least one voice and one non-empty set"
        )
    model, asr = machine.model_and_asr(model, asr)

    results: dict[str, dict[str, dict]] = {}
    for voice_name in voices:
        pipeline = Pipeline(model, load_voice(voice_name), lang=lang, seed=seed)
        results[voice_name] = {}
        for set_name, texts in sets.items():
            _, hyps, timing = machine.speak_and_transcribe(pipeline, asr, texts, batch_size)
            cell = score_both(texts, hyps)
            cell.update(
                g2p=pipeline.frontend.mode,
                transcripts=hyps,
                **timing,
            )
            results[voice_name][set_name] = cell
            log.info(
                "%s %s (%s): WER %.3f -> %.3f, CER %.3f -> %.3f, %d sentences change",
                voice_name,
                set_name,
                cell["g2p"],
                cell["previous"]["wer"],
                cell["whisper"]["wer"],
                cell["previous"]["cer"],
                cell["whisper"]["cer"],
                len(cell["changed"]),
            )
    return {
        "lang": lang,
        "seed": seed,
        "batch_size": batch_size,
        "asr": machine.asr_settings(asr),
        "voices": voices,
        "sets": {name: list(texts) for name, texts in sets.items()},
        "results": results,
        "pooled": {s: _pool([results[v][s] for v in voices]) for s in sets},
    }


def rescore_frontend_study(frontend: dict, study: dict | None = None) -> dict:
    """docs/frontend_intelligibility.json's transcripts under both rules, per voice and mode:
    {voice: {mode: {previous, whisper, changed}}} plus `pooled` per mode and, when `study`
    spoke the same Harvard sentences, `reproduced` {voice: [identical transcripts, of n]}."""
    texts = frontend["sentences"]
    out: dict = {"voices": {}, "pooled": {}}
    for voice, modes in frontend["results"].items():
        out["voices"][voice] = {}
        for mode, cell in modes.items():
            hyps = [u["transcript"] for u in cell["utterances"]]
            scored = score_both(texts, hyps)
            # the stored WER must be what the previous rules give: else this is not the same data
            assert scored["previous"]["word_errors"] == cell["word_errors"], (voice, mode)
            out["voices"][voice][mode] = scored
    modes = frontend["modes"]
    out["pooled"] = {m: _pool([out["voices"][v][m] for v in out["voices"]]) for m in modes}
    if study is not None and study["sets"].get("harvard") == texts:
        out["reproduced"] = {}
        for voice, sets in study["results"].items():
            mode = sets["harvard"]["g2p"]
            if voice in frontend["results"] and mode in frontend["results"][voice]:
                stored = [u["transcript"] for u in frontend["results"][voice][mode]["utterances"]]
                ours = sets["harvard"]["transcripts"]
                same = sum(a == b for a, b in zip(ours, stored, strict=True))
                out["reproduced"][voice] = {"mode": mode, "identical": same, "of": len(ours)}
    return out


# --- report ------------------------------------------------------------------------------------


def _both(cell: dict, key: str) -> str:
    return f"{machine.pct(cell['previous'][key])} -> {machine.pct(cell['whisper'][key])}"


#: Numbers quoted in README.md and docs/*.md that were computed with the previous rules and that
#: this study does not re-measure (other models, voices, sentences or beam sizes).
NOT_COVERED = (
    (
        "docs/benchmarks.md",
        'fast-path quality {"wer_fp32": 0.16}',
        "benchmark sentences, its own engine",
    ),
    (
        "docs/finetune_voice.md, README.md",
        "WER of fitted voicepacks and their targets (e.g. jf_nezumi 6.8 % vs 4.1 %)",
        "beam 5 on the held-out Harvard sentences 101-110, fitted voicepacks",
    ),
    (
        "docs/training.md, README.md",
        "fine-tuning WER 6.2 % -> 7.4 % and the 39.5 / 17.3 / 23.5 % ablations",
        "fine-tuned weights, Harvard sentences 300-309",
    ),
)


def markdown_report(study: dict) -> str:
    """The study as Markdown: old -> new WER and CER per voice and set, the sentences whose score
    changed, the frontend table rescored, the numbers not covered, and how it was measured."""
    lines = [
        "# WER normaliser: previous rules -> Whisper's English normaliser",
        "",
        "`kokoro_lab.metrics.error_rate` now normalizes both sides with Whisper's "
        "`EnglishTextNormalizer` (PyPI `whisper-normalizer`), the rules behind published "
        "Whisper WERs. The previous rules spelled numbers out as words and deleted apostrophes; "
        "Whisper's turn spelled-out numbers into digits, expand contractions and titles "
        '("it\'s" -> "it is", "Dr." -> "doctor"), drop fillers and Americanize spelling. '
        "Same audio, same transcripts, two scorings (WER % then CER %, previous -> Whisper):",
        "",
        "| voice | set | front end | sentences | WER % | CER % | sentences that change |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for voice, sets in study["results"].items():
        for name, cell in sets.items():
            lines.append(
                f"| {voice} | {name} | {cell['g2p']} | {len(study['sets'][name])} | "
                f"{_both(cell, 'wer')} | {_both(cell, 'cer')} | {len(cell['changed'])} |"
            )
    for name, cell in study["pooled"].items():
        lines.append(
            f"| all | {name} | | {len(study['sets'][name]) * len(study['voices'])} | "
            f"{_both(cell, 'wer')} | {_both(cell, 'cer')} | |"
        )
    lines += [
        "",
        "Where the rules differ on these texts: currency (Whisper keeps `$`, `£`, `€` on the "
        'digits and turns a following "dollars" into `$`, so "dollar 3.50" no longer '
        'matches "$3.50"; the previous rules dropped the symbols), numbers the recognizer '
        'splits ("1 million 500 thousand" vs "1,500,000"), contractions ("I\'m" -> '
        '"i am", "father\'s" -> "father is": a misheard contraction can cost one more error), a '
        'final "..." left as a `.` token, and spelling variants ("busses" -> "buses").',
        "",
        "## Sentences whose word errors change",
        "",
    ]
    for voice, sets in study["results"].items():
        for name, cell in sets.items():
            for row in cell["changed"][:4]:
                o, n = row["previous"], row["whisper"]
                lines += [
                    f"- {voice}, {name} #{row['index'] + 1}: {o['errors']} -> {n['errors']} "
                    f"errors. Text {row['text']!r}, heard {row['transcript']!r}",
                    f"  - previous: `{o['reference']}` vs `{o['hypothesis']}`",
                    f"  - whisper: `{n['reference']}` vs `{n['hypothesis']}`",
                ]
    lines.append("")
    lines.append("(At most four per voice and set; all of them are in the JSON next to this file.)")

    rescored = study.get("frontend_rescored")
    if rescored:
        modes = list(rescored["pooled"])
        lines += [
            "",
            "## docs/frontend_intelligibility.md rescored",
            "",
            "Its stored transcripts (5 voices x 3 front ends x Harvard sentences 31-130, beam 1) "
            "scored with both rules: WER %, previous -> Whisper; the best front end per voice "
            "under each.",
            "",
            "| voice | " + " | ".join(modes) + " | best (previous) | best (whisper) |",
            "| --- | " + " | ".join("---:" for _ in modes) + " | --- | --- |",
        ]
        groups = {**rescored["voices"], "all voices": rescored["pooled"]}
        for voice, cells in groups.items():
            best = {
                r: min(modes, key=lambda m, r=r: (cells[m][r]["wer"], cells[m][r]["cer"]))
                for r in RULES
            }
            row = " | ".join(_both(cells[m], "wer") for m in modes)
            lines.append(f"| {voice} | {row} | {best['previous']} | {best['whisper']} |")
        for voice, rep in rescored.get("reproduced", {}).items():
            lines.append(
                f"\nSame audio check: {voice} ({rep['mode']}) gave {rep['identical']} of "
                f"{rep['of']} transcripts identical to the stored ones."
            )
    lines += [
        "",
        "## Numbers elsewhere computed with the previous rules",
        "",
        "- README.md (the embedded default `jm_kumo`: 4.8 % against 5.5-16.1 %) and the README "
        "table of English defaults quote docs/frontend_intelligibility.md: see its rescored "
        "table above.",
    ]
    for where, what, why in NOT_COVERED:
        lines.append(f"- {where}: {what}. Not re-measured here ({why}).")

    env, asr = study.get("environment", {}), study["asr"]
    lines += [
        "",
        "## How",
        "",
        f"- Command: `{study.get('command', 'python scripts/measure_normalizer.py')}`",
        f"- Texts: Harvard sentences {study.get('harvard_first')}-{study.get('harvard_last')} "
        "(as docs/frontend_intelligibility.md) and the 40 lines of "
        "`kokoro_lab/evaluation/numbers_dates_heteronyms.txt`; language "
        f"{study['lang']}.",
        f"- Synthesis: `Pipeline(model, voice, lang={study['lang']!r}, seed={study['seed']})"
        f".synthesize_batch(texts, batch_size={study['batch_size']})`, the embedded Kokoro-82M "
        "v1.0 weights, each voice's own English front end.",
        f"- Recognition: Whisper tiny.en (CTranslate2 int8, faster-whisper), beam size "
        f"{asr['beam_size']}, temperature 0, once per clip.",
        f"- whisper-normalizer {env.get('whisper-normalizer')}; texts or transcripts holding a "
        f"word it adds to openai/whisper's rules ({', '.join(NOT_UPSTREAM)}): "
        f"{sum(c['not_upstream_words'] for s in study['results'].values() for c in s.values())}.",
    ]
    if env:
        lines.append(
            f"- Machine: {env.get('cpu_model')} (lscpu model name), torch CPU capability "
            f"{env.get('cpu_capability')}, {env.get('torch_threads')} torch thread(s), "
            f"{env.get('cpu_count')} CPUs (shared with other work while it ran); wall time "
            f"{study.get('wall_s', 0):.0f} s."
        )
    lines.append("")
    return "\n".join(lines)


# --- the task ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalizerStudyConfig:
    """What scripts/measure_normalizer.py runs (see its --help)."""

    voices: tuple[str, ...] = (DEFAULT_VOICE, "jf_alpha")
    sets: tuple[str, ...] = SETS
    harvard_count: int = HARVARD_COUNT
    harvard_start: int = HARVARD_START
    lang: str = "en-us"
    seed: int = 0
    batch_size: int = 4
    beam_size: int = 1
    threads: int | None = 1
    frontend_json: str | None = "docs/frontend_intelligibility.json"
    output_json: str = "docs/wer_normalizer.json"
    output_md: str = "docs/wer_normalizer.md"


#: The software whose versions the study records (besides torch).
PACKAGES = ("whisper-normalizer", "jiwer", "faster-whisper", "misaki", "phonemizer")


def measure_normalizer(cfg: NormalizerStudyConfig, command: str | None = None) -> dict:
    """Run the study, rescore cfg.frontend_json's transcripts, write cfg.output_json and
    cfg.output_md; returns the study dict (with `environment`, `wall_s` and the config)."""
    from kokoro_lab.metrics.asr import WhisperASR
    from kokoro_lab.runtime import process_state

    sets = text_sets(cfg.sets, cfg.harvard_count, cfg.harvard_start)
    frontend = None
    if cfg.frontend_json:
        if not Path(cfg.frontend_json).is_file():
            raise UserFileError(
                f"frontend_json={cfg.frontend_json!r} does not exist: pass the JSON that "
                "scripts/measure_frontends.py wrote, or none to skip the rescoring"
            )
        frontend = json.loads(Path(cfg.frontend_json).read_text(encoding="utf-8"))
    machine.check_output_folders((cfg.output_json, cfg.output_md))
    started = time.perf_counter()
    with process_state(threads=cfg.threads):  # which checks that threads is positive
        env = machine.environment(PACKAGES)
        asr = WhisperASR(beam_size=cfg.beam_size, threads=env["torch_threads"])
        study = normalizer_study(
            cfg.voices, sets, asr=asr, lang=cfg.lang, seed=cfg.seed, batch_size=cfg.batch_size
        )
    wall_s = time.perf_counter() - started
    study.update(
        question="What does Whisper's English normaliser change in our WER numbers?",
        command=command,
        harvard_first=cfg.harvard_start + 1,
        harvard_last=cfg.harvard_start + cfg.harvard_count,
        config=asdict(cfg),
        environment={**env, "load_average_1_5_15min_after": list(os.getloadavg())},
        wall_s=wall_s,
    )
    if frontend is not None:
        study["frontend_rescored"] = rescore_frontend_study(frontend, study)
    machine.write_study(study, cfg.output_json, cfg.output_md, markdown_report)
    return study
