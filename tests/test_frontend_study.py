"""The front-end intelligibility study, CI-sized: 2 voices x 3 G2P modes x 4 sentences with the
real weights and Whisper tiny.en (the full study is scripts/measure_frontends.py)."""

from __future__ import annotations

import json
import math

import pytest

from kokoro_lab.evaluation.frontend_study import (
    DEFAULT_START,
    INTELLIGIBLE_WER,
    MODES,
    StudyConfig,
    frontend_study,
    markdown_report,
    measure_frontends,
)
from kokoro_lab.evaluation.texts import harvard_sentences
from kokoro_lab.metrics.asr import WhisperASR

VOICES = ("jf_alpha", "jm_kumo")
SENTENCES = harvard_sentences(4, DEFAULT_START)


@pytest.fixture(scope="module")
def study(real_model):
    return frontend_study(VOICES, MODES, SENTENCES, model=real_model, asr=WhisperASR(beam_size=1))


@pytest.mark.slow
def test_study_structure_and_intelligibility(study):
    assert study["voices"] == list(VOICES) and study["modes"] == list(MODES)
    assert study["sentences"] == SENTENCES
    for voice in VOICES:
        assert set(study["results"][voice]) == set(MODES)
        for mode in MODES:
            cell = study["results"][voice][mode]
            for key in ("wer", "cer"):
                assert isinstance(cell[key], float) and math.isfinite(cell[key])
                assert 0.0 <= cell[key] <= 2.0  # above 1 only when insertions pile up
            assert cell["words"] == sum(len(s.split()) for s in SENTENCES)
            assert cell["word_errors"] == round(cell["wer"] * cell["words"])
            errors = cell["substitutions"] + cell["deletions"] + cell["insertions"]
            assert errors == cell["word_errors"]
            assert len(cell["utterances"]) == len(SENTENCES)
            assert all(isinstance(u["transcript"], str) for u in cell["utterances"])
            assert cell["synth_s"] > 0 and cell["asr_s"] > 0 and cell["audio_s"] > 1.0
        assert study["best"][voice] in MODES
        for wins, losses, ties in study["pairwise"][voice].values():
            assert wins + losses + ties == len(SENTENCES)
    # the three front ends really differ: misaki symbols (A, I, O, ...) vs raw IPA diphthongs
    assert set(study["phonemes"]) == set(MODES)
    assert all(len(ps) == len(SENTENCES) for ps in study["phonemes"].values())
    assert "ˈeɪ" in " ".join(study["phonemes"]["espeak-ipa"])
    assert "ˈA" in " ".join(study["phonemes"]["espeak"])
    for mode in MODES:
        assert 0 <= study["pooled"][mode]["wer"] <= 2.0
    assert any(
        all(study["results"][v][m]["wer"] < INTELLIGIBLE_WER for m in MODES) for v in VOICES
    ), {v: {m: study["results"][v][m]["wer"] for m in MODES} for v in VOICES}
    print("\n" + markdown_report(study))


@pytest.mark.slow
def test_markdown_report(study):
    md = markdown_report(study)
    for voice in VOICES:
        assert f"| {voice} | " in md
    assert "| voice | misaki | espeak | espeak-ipa | best |" in md
    assert md.count("**") == 2 * len(VOICES)  # one best cell per voice


@pytest.mark.slow
def test_task_writes_json_and_markdown(tmp_path):
    cfg = StudyConfig(
        voices=("jf_alpha",),
        modes=("espeak-ipa",),
        num_sentences=1,
        threads=2,
        output_json=str(tmp_path / "study.json"),
        output_md=str(tmp_path / "study.md"),
    )
    study = measure_frontends(cfg)
    saved = json.loads((tmp_path / "study.json").read_text(encoding="utf-8"))
    assert saved["sentence_source"]["first"] == DEFAULT_START + 1
    assert saved["environment"]["torch_threads"] == 2 and saved["environment"]["cpu_capability"]
    assert saved["wall_s"] > 0 and saved["results"]["jf_alpha"]["espeak-ipa"]["utterances"]
    assert (
        saved["results"]["jf_alpha"]["espeak-ipa"]["wer"]
        == study["results"]["jf_alpha"]["espeak-ipa"]["wer"]
    )
    assert "| jf_alpha | " in (tmp_path / "study.md").read_text(encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        measure_frontends(StudyConfig(output_json=str(tmp_path / "no" / "x.json")))
    with pytest.raises(ValueError, match="num_sentences=400"):
        measure_frontends(StudyConfig(num_sentences=400))
