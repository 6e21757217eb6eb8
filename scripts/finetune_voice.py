"""Fit a voicepack from recordings: `python scripts/finetune_voice.py data_dir=DIR name=NAME
init_voice=VOICE output_dir=OUT` (see README)."""

import hydra
from omegaconf import DictConfig

from kokoro_lab.tasks.cli import run_task
from kokoro_lab.tasks.finetune_voice import finetune_voice


@hydra.main(version_base="1.3", config_path="../configs", config_name="finetune_voice")
def main(cfg: DictConfig) -> None:
    result = run_task(finetune_voice, cfg)
    sims = result.metrics["speaker_sim_to_data"]
    print(f"speaker similarity to the recordings: {sims['init']:.3f} -> {sims['fitted']:.3f}")
    print(f"wrote {result.voicepack}, {result.sample} and {result.metrics_path}")


if __name__ == "__main__":
    main()
