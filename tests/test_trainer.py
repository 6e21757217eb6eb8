"""make_trainer: the trainer group when a config has one, else one device from `device`."""

from __future__ import annotations

import pytest
from conftest import compose_config
from lightning.pytorch.accelerators import CPUAccelerator
from omegaconf import OmegaConf

from kokoro_lab.lightning.trainer import accelerator_for, make_trainer


@pytest.mark.parametrize(
    "device, accelerator",
    [("cpu", "cpu"), ("cuda", "gpu"), ("cuda:1", "gpu"), ("mps", "cpu")],
)
def test_accelerator_for(device, accelerator):
    assert accelerator_for(device) == accelerator


def test_device_key_gives_one_device_without_logger():
    trainer = make_trainer(OmegaConf.create({"device": "cpu"}), max_steps=3)
    assert isinstance(trainer.accelerator, CPUAccelerator)
    assert trainer.num_devices == 1
    assert trainer.logger is None  # logger=False
    assert trainer.max_steps == 3


def test_trainer_group_is_instantiated_with_overrides(tmp_path):
    cfg = compose_config("train", "trainer=cpu", f"run_dir={tmp_path}")
    trainer = make_trainer(cfg, logger=False, max_steps=7, use_distributed_sampler=False)
    assert isinstance(trainer.accelerator, CPUAccelerator)
    assert trainer.max_steps == 7  # the override wins over the group's 1000
    assert trainer.val_check_interval == cfg.trainer.val_check_interval
    assert trainer.default_root_dir == str(tmp_path)
