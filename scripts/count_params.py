"""Print the parameter count per component: `python scripts/count_params.py model=kokoro_v1`."""

import hydra
from omegaconf import DictConfig

from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.weights import count_params


@hydra.main(version_base="1.3", config_path="../configs", config_name="count_params")
def main(cfg: DictConfig) -> None:
    for name, n in run_task(count_params, cfg).items():
        print(f"{name:<14} {n:>12,}")


if __name__ == "__main__":
    main()
