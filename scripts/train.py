"""Train or fine-tune Kokoro: `python scripts/train.py experiment=tiny_overfit` (see README)."""

import json

import hydra
from omegaconf import DictConfig

from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.train import train


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    summary = run_task(train, cfg)
    if summary is not None:
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
