"""Synthesize speech: `python scripts/infer.py +voice=af_bella text="Hello."` (see README)."""

import hydra
from omegaconf import DictConfig

from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.infer import infer


@hydra.main(version_base="1.3", config_path="../configs", config_name="infer")
def main(cfg: DictConfig) -> None:
    result = run_task(infer, cfg)
    for ps in result.phonemes:
        print(ps)
    for path in result.paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
