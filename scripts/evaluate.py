"""Evaluate voices, checkpoints or WAVs: `python scripts/evaluate.py voices=[jf_alpha,jm_kumo]`
(see README)."""

import logging

import hydra
from omegaconf import DictConfig

from kokoro_lab.evaluation.report import comparison_table
from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="../configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per clip
    result = run_task(evaluate, cfg)
    print("\n".join(comparison_table(result.metrics["systems"])))
    print(f"wrote {result.output_dir / 'metrics.json'} and {result.report}")


if __name__ == "__main__":
    main()
