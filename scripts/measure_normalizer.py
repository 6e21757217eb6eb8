"""WER and CER before and after the switch to Whisper's English normaliser, on the same audio
(see docs/wer_normalizer.md):

    python scripts/measure_normalizer.py [--voices jm_kumo jf_alpha] [--sets harvard numbers]
        [--harvard-count 100] [--harvard-start 30] [--threads 1] [--output-json J] [--output-md M]

The default run (2 voices x 140 sentences, 1 thread) takes about 15-30 CPU-minutes.
"""

import argparse
import functools
import logging
import shlex
import sys

from kokoro_lab.evaluation.normalizer_study import NormalizerStudyConfig, measure_normalizer
from kokoro_lab.tasks.cli import run_task


def parse_args() -> NormalizerStudyConfig:
    d = NormalizerStudyConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--voices", nargs="+", default=list(d.voices), help="voice names")
    p.add_argument("--sets", nargs="+", default=list(d.sets), help="harvard and/or numbers")
    p.add_argument("--harvard-count", type=int, default=d.harvard_count)
    p.add_argument("--harvard-start", type=int, default=d.harvard_start, help="0-based")
    p.add_argument("--lang", default=d.lang)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--beam-size", type=int, default=d.beam_size, help="Whisper beam (1: greedy)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--frontend-json", default=d.frontend_json, help="'' to skip the rescoring")
    p.add_argument("--output-json", default=d.output_json)
    p.add_argument("--output-md", default=d.output_md)
    a = p.parse_args()
    return NormalizerStudyConfig(
        voices=tuple(a.voices),
        sets=tuple(a.sets),
        harvard_count=a.harvard_count,
        harvard_start=a.harvard_start,
        lang=a.lang,
        seed=a.seed,
        batch_size=a.batch_size,
        beam_size=a.beam_size,
        threads=a.threads,
        frontend_json=a.frontend_json or None,
        output_json=a.output_json,
        output_md=a.output_md,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per clip
    command = "python " + shlex.join(["scripts/measure_normalizer.py", *sys.argv[1:]])
    study = run_task(functools.partial(measure_normalizer, command=command), parse_args())
    for voice, sets in study["results"].items():
        for name, cell in sets.items():
            print(
                f"{voice} {name}: WER {cell['previous']['wer']:.3f} -> {cell['whisper']['wer']:.3f}"
            )
