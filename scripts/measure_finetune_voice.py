"""Measure voicepack fine-tuning with a held-out voice as the target (docs/finetune_voice.md):

    python scripts/measure_finetune_voice.py TARGET START OUT_DIR [finetune overrides ...]

writes OUT_DIR/measure.json (speaker similarity, WER, aligner error, time and memory)."""

import json
import sys

from kokoro_lab.voice_fitting.measure import measure

if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    target, start, out, *overrides = sys.argv[1:]
    result = measure(target, start, out, overrides=overrides)
    print(
        json.dumps(
            {k: result[k] for k in ("speaker_sim_to_target", "wer", "aligner_error")}, indent=2
        )
    )
