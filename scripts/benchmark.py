"""Side-by-side speed benchmark: `python scripts/benchmark.py [quick=true]` -> docs/benchmarks.md
and docs/benchmark.json."""

import sys

import hydra
from omegaconf import DictConfig, open_dict

from kokoro_lab.tasks.benchmark import benchmark
from kokoro_lab.tasks.cli import run_task


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    with open_dict(cfg):
        cfg.argv = sys.argv[1:]
    result = run_task(benchmark, cfg)
    for name, value in result["ratios"].items():
        print(f"{name:<32} {value}")


if __name__ == "__main__":
    main()
