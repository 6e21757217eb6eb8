"""The Trainer of the inference jobs (corpus synthesis, evaluation, `infer lines=true`).

The `trainer` config group says where processes run: `accelerator`, `devices`, `num_nodes`,
`strategy` (configs/trainer/synthesis.yaml, synthesis_ddp.yaml, or a training config such as
ddp.yaml / ddp_multinode.yaml, of which only these four keys are read). Everything else is fixed
for inference: full fp32 precision (no bf16-mixed: the audio is the product), plain `ddp` (no
unused-parameter search: nothing is trained), no logger, checkpoints, model summary or
Lightning bar (the job has its own), no DistributedSampler (the job shares out its own batches,
each exactly once), and the job's output folder as Lightning's root.

`device=` and the trainer's accelerator: the trainer's wins when it names one (cpu, gpu);
`device=` fills in `accelerator: auto`; a `device=` of the other kind than an explicit
accelerator is a UserValueError naming both (never a silent choice).

`devices: auto` (configs/trainer/synthesis.yaml) on CPU means `cpu_processes()` processes of
cores / processes threads each (Lightning's CPU DDP launcher sets that thread count): the
layout measured faster for corpus synthesis on the CPU this was built on
(docs/synthesis_layouts.json, scripts/measure_synthesis_layouts.py). On GPU it means every GPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import lightning as L
from omegaconf import DictConfig, OmegaConf

from kokoro_lab.errors import UserValueError
from kokoro_lab.lightning.trainer import accelerator_for

#: The trainer keys an inference job reads from its `trainer` config.
DISTRIBUTION_KEYS = ("accelerator", "devices", "num_nodes", "strategy")
#: Lightning accelerator names -> the device kind they mean.
_KIND = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}


def _accelerator(chosen: str | None, device: str | None) -> str:
    chosen = str(chosen or "auto")
    if device is None:
        return chosen
    wanted = accelerator_for(device)
    if chosen == "auto":
        return wanted
    if _KIND.get(chosen, chosen) != wanted:
        raise UserValueError(
            f"device={device} and trainer.accelerator={chosen} disagree: pass one of them "
            f"(the trainer's accelerator decides when both are given), e.g. "
            f"trainer.accelerator={wanted} or device={'cpu' if wanted == 'gpu' else 'cuda'}"
        )
    return chosen


#: Torch threads per synthesis process on CPU for `devices: auto` (docs/synthesis_layouts.json).
CPU_THREADS_PER_PROCESS = 1


def cpu_processes() -> int:
    """Processes `devices: auto` starts on CPU: usable cores / CPU_THREADS_PER_PROCESS."""
    return max(1, len(os.sched_getaffinity(0)) // CPU_THREADS_PER_PROCESS)


def _on_cpu(accelerator: str) -> bool:
    import torch

    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def sharded_trainer(
    trainer_cfg: DictConfig | Mapping | None,
    device: str | None,
    output_dir: str | os.PathLike,
    **overrides,
) -> L.Trainer:
    """An inference Trainer placed by `trainer_cfg`'s distribution keys (None: one device of
    `device`'s kind); `overrides` (callbacks, ...) are passed on."""
    given = {}
    if trainer_cfg is not None:
        node = (
            OmegaConf.create(dict(trainer_cfg))
            if not OmegaConf.is_config(trainer_cfg)
            else trainer_cfg
        )
        given = {k: node.get(k) for k in DISTRIBUTION_KEYS if node.get(k) is not None}
    strategy = given.get("strategy", "auto")
    if isinstance(strategy, str) and strategy.startswith("ddp"):
        strategy = "ddp"  # ddp_find_unused_parameters_true: a training setting
    accelerator = _accelerator(given.get("accelerator"), device)
    devices = given.get("devices", 1)
    if devices == "auto" and _on_cpu(accelerator):
        devices = cpu_processes()
    if strategy == "auto" and isinstance(devices, int) and devices > 1:
        strategy = "ddp"  # processes re-running the command (Lightning's subprocess launcher)
    settings = {
        "accelerator": accelerator,
        "devices": devices,
        "num_nodes": given.get("num_nodes", 1),
        "strategy": strategy,
        "precision": "32-true",
        "logger": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "enable_progress_bar": False,
        "use_distributed_sampler": False,
        "default_root_dir": os.fspath(output_dir),
    }
    return L.Trainer(**{**settings, **overrides})
