"""Write the loaded weights in the official v1.0 layout: `python scripts/export_checkpoint.py
output=kokoro-v1_0.pth` (default source: the embedded offline weights)."""

import hydra
from omegaconf import DictConfig

from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.weights import export_checkpoint


@hydra.main(version_base="1.3", config_path="../configs", config_name="export_checkpoint")
def main(cfg: DictConfig) -> None:
    print(f"wrote {run_task(export_checkpoint, cfg)}")


if __name__ == "__main__":
    main()
