"""Shared fixtures. Real weights, real espeak-ng, real files: nothing here is mocked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/reference_kokoro.py

HARVARD = ROOT.parent / "shared" / "data" / "harvard_sentences_lists_01-36.txt"


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def embedded_checkpoint() -> Path:
    from kokoro_lab.hub import embedded_checkpoint_path

    return embedded_checkpoint_path()


@pytest.fixture(scope="session")
def real_model(embedded_checkpoint):
    from kokoro_lab.checkpoint import load_into, read_checkpoint
    from kokoro_lab.model import KokoroModel

    model = KokoroModel().eval()
    load_into(model, read_checkpoint(embedded_checkpoint))
    return model


#: The training recipe's test dataset: 16 Harvard sentences spoken by the pretrained model.
SYNTHETIC = {"voice": "jf_alpha", "start": 0, "count": 16}


@pytest.fixture(scope="session")
def synthetic_data() -> Path:
    """SYNTHETIC rendered with the embedded weights (once per machine, in the kokoro_lab cache)."""
    from kokoro_lab.data.datamodule import synthetic_dir
    from kokoro_lab.data.synthetic import render_dataset

    return render_dataset(synthetic_dir(**SYNTHETIC), **SYNTHETIC)
