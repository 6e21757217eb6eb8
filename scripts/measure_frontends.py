"""Whisper WER of each embedded voice through each English front end (see
docs/frontend_intelligibility.md):

    python scripts/measure_frontends.py [--voices jf_alpha jm_kumo] [--modes espeak espeak-ipa]
        [--num-sentences 100] [--start 30] [--threads 2] [--output-json J] [--output-md M]

The full default run (5 voices x 3 modes x 100 sentences) takes about 40+ CPU-minutes.
"""

import argparse
import logging

from kokoro_lab.evaluation.frontend_study import StudyConfig, measure_frontends
from kokoro_lab.runtime import tune_allocator
from kokoro_lab.tasks.cli import run_task


def parse_args() -> StudyConfig:
    d = StudyConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--voices", nargs="+", default=list(d.voices), help="voice names")
    p.add_argument("--modes", nargs="+", default=list(d.modes), help="G2P modes")
    p.add_argument("--num-sentences", type=int, default=d.num_sentences)
    p.add_argument("--start", type=int, default=d.start, help="first Harvard sentence, 0-based")
    p.add_argument("--lang", default=d.lang)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--beam-size", type=int, default=d.beam_size, help="Whisper beam (1: greedy)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--output-json", default=d.output_json)
    p.add_argument("--output-md", default=d.output_md)
    a = p.parse_args()
    return StudyConfig(
        voices=tuple(a.voices),
        modes=tuple(a.modes),
        num_sentences=a.num_sentences,
        start=a.start,
        lang=a.lang,
        seed=a.seed,
        batch_size=a.batch_size,
        beam_size=a.beam_size,
        threads=a.threads,
        output_json=a.output_json,
        output_md=a.output_md,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per clip
    tune_allocator()  # fewer page faults per forward pass (kokoro_lab.runtime)
    study = run_task(measure_frontends, parse_args())
    for voice, mode in study["best"].items():
        print(f"{voice}: best {mode} (WER {study['results'][voice][mode]['wer']:.3f})")
