"""scripts/count_params.py and scripts/export_checkpoint.py through their task functions."""

from __future__ import annotations

from conftest import compose_config as _cfg
from reference_kokoro import build_kmodel

from kokoro_lab.checkpoint import COMPONENTS, read_checkpoint
from kokoro_lab.tasks.weights import count_params, export_checkpoint
from kokoro_lab.text import VOCAB


def test_count_params_official_size():
    counts = count_params(_cfg("count_params", "model=kokoro_v1"))
    assert counts["total"] == 81_810_022  # the official v1.0 model, ~81.8M
    assert counts["decoder"] == 53_313_586 and counts["bert"] == 6_292_480


def test_export_writes_official_layout_that_kmodel_loads(tmp_path):
    path = export_checkpoint(_cfg("export_checkpoint", f"output={tmp_path / 'k.pth'}"))
    ckpt = read_checkpoint(path)
    assert sorted(ckpt) == sorted(COMPONENTS)
    kmodel = build_kmodel(str(path), VOCAB)
    for comp in COMPONENTS:
        getattr(kmodel, comp).load_state_dict(ckpt[comp], strict=True)
