"""kokoro_lab.evaluation.normalizer_study: both rules on the same transcripts, no synthesis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kokoro_lab.evaluation.normalizer_study import (
    markdown_report,
    rescore_frontend_study,
    score_both,
    text_sets,
)

ROOT = Path(__file__).resolve().parents[1]


def test_score_both_known_answers():
    texts = ["Don't go", "seven cats", "The colour"]
    hyps = ["do not go", "7 cats", "the color"]
    out = score_both(texts, hyps)
    # previous: "dont go" vs "do not go" (2 errors) and "colour" vs "color" (1); Whisper: none
    assert (out["previous"]["word_errors"], out["previous"]["words"]) == (3, 6)
    assert (out["whisper"]["word_errors"], out["whisper"]["words"]) == (0, 7)
    assert [row["index"] for row in out["changed"]] == [0, 2]
    assert out["changed"][0]["previous"]["reference"] == "dont go"
    assert out["changed"][0]["whisper"]["hypothesis"] == "do not go"
    assert out["not_upstream_words"] == 0
    assert score_both(["'cause I said"], ["because I said"])["not_upstream_words"] == 1


def test_stored_frontend_study_rescored():
    """The stored transcripts of docs/frontend_intelligibility.json give back its stored word
    errors under the previous rules (rescore asserts it per cell), so the rescored table compares
    the same data; and the pooled rates are the sums of the cells."""
    frontend = json.loads((ROOT / "docs/frontend_intelligibility.json").read_text())
    out = rescore_frontend_study(frontend)
    for voice, modes in frontend["results"].items():
        for mode, cell in modes.items():
            assert out["voices"][voice][mode]["previous"]["wer"] == pytest.approx(cell["wer"])
    mode = frontend["modes"][0]
    cells = [out["voices"][v][mode]["whisper"] for v in frontend["results"]]
    pooled = out["pooled"][mode]["whisper"]
    assert pooled["word_errors"] == sum(c["word_errors"] for c in cells)
    assert pooled["wer"] == pytest.approx(pooled["word_errors"] / pooled["words"])
    assert "reproduced" not in out  # no study given


def test_report_and_text_sets():
    sets = text_sets(["harvard", "numbers"], harvard_count=2, harvard_start=30)
    assert len(sets["harvard"]) == 2 and len(sets["numbers"]) == 40
    with pytest.raises(ValueError, match="choose from"):
        text_sets(["nope"], 2, 0)
    texts = sets["harvard"]
    cell = {**score_both(texts, ["", texts[1]]), "g2p": "misaki", "transcripts": ["", texts[1]]}
    study = {
        "lang": "en-us",
        "seed": 0,
        "batch_size": 4,
        "asr": {"beam_size": 1},
        "voices": ["v"],
        "sets": {"harvard": texts},
        "results": {"v": {"harvard": cell}},
        "pooled": {"harvard": {r: cell[r] for r in ("previous", "whisper")}},
    }
    report = markdown_report(study)
    wer = 100 * cell["whisper"]["wer"]
    assert f"| v | harvard | misaki | 2 | {wer:.1f} -> {wer:.1f} |" in report
