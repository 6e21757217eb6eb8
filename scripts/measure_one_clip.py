"""Measure the one-clip mode with held-out voices as targets (docs/one_clip_voice.md):

    python scripts/measure_one_clip.py OUT_DIR [REPORT.json] [finetune overrides ...]

fits jf_alpha, jf_nezumi and jm_kumo from ~20 s each (and jf_alpha again with noise and at
-28 dBFS); writes OUT_DIR/measure.json and REPORT.json after every fit."""

import json
import logging
import sys

from kokoro_lab.voice_fitting.measure_one_clip import measure_one_clip

TARGETS = ["jf_alpha", "jf_nezumi", "jm_kumo"]

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out, *rest = sys.argv[1:]
    report = rest.pop(0) if rest and rest[0].endswith(".json") else None
    result = measure_one_clip(TARGETS, out, overrides=rest, report=report)
    print(
        json.dumps(
            [
                {
                    k: r[k]
                    for k in (
                        "target",
                        "condition",
                        "ratio_fitted_to_self",
                        "wer_gap_points",
                        "cpu_seconds",
                    )
                }
                for r in result["runs"]
            ],
            indent=2,
        )
    )
