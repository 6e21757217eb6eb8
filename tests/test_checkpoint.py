"""Official layouts load strictly; corrupted or tampered checkpoints are refused clearly."""

from __future__ import annotations

import pickle
import re

import pytest
import torch

from kokoro_lab.checkpoint import (
    CheckpointError,
    load_into,
    read_checkpoint,
    save_checkpoint,
    state_dicts,
)
from kokoro_lab.hydra_configs import model_config
from kokoro_lab.model import KokoroModel


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    return KokoroModel(model_config("tiny"))


def test_round_trip_and_official_wrappers(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "ck.pth")
    other = KokoroModel(model_config("tiny"))
    load_into(other, read_checkpoint(path))
    for (k, a), b in zip(tiny.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), k
    # v1.0 files prefix `module.`; v0.19 files wrap everything in `net`; official files omit the
    # AdaIN InstanceNorm affine pair (filled with the identity the official code runs).
    official = {
        comp: {f"module.{k}": v for k, v in sd.items() if not re.search(r"(^|\.)norm\.", k)}
        for comp, sd in state_dicts(tiny).items()
    }
    torch.save({"net": official}, tmp_path / "v019.pth")
    load_into(other, read_checkpoint(tmp_path / "v019.pth"))
    assert torch.equal(
        other.decoder.encode.norm1.norm.weight,
        torch.ones_like(other.decoder.encode.norm1.norm.weight),
    )


def test_wrong_hash_is_refused(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "ck.pth")
    with pytest.raises(CheckpointError, match="SHA-256"):
        read_checkpoint(path, expected_sha256="0" * 64)


def test_truncated_file_is_refused(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "ck.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(path)


def test_missing_keys_are_listed(tiny, tmp_path):
    ckpt = state_dicts(tiny)
    del ckpt["decoder"]["generator.conv_post.weight_v"]
    ckpt["predictor"]["surprise.weight"] = torch.zeros(1)
    path = save_checkpoint(ckpt, tmp_path / "ck.pth")
    with pytest.raises(CheckpointError) as err:
        load_into(KokoroModel(model_config("tiny")), read_checkpoint(path))
    assert "generator.conv_post.weight_v" in str(err.value)
    assert "surprise.weight" in str(err.value)


def test_wrong_config_shapes_are_listed(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "ck.pth")
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_into(KokoroModel(), read_checkpoint(path))


class _Payload:
    def __reduce__(self):
        return (print, ("this would have run code",))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"bert": _Payload()}, f)
    with pytest.raises(CheckpointError, match="weights_only"):
        read_checkpoint(path)


def test_missing_component_is_named(tiny, tmp_path):
    ckpt = state_dicts(tiny)
    del ckpt["bert"]
    torch.save(ckpt, tmp_path / "ck.pth")
    with pytest.raises(CheckpointError, match="bert"):
        read_checkpoint(tmp_path / "ck.pth")


def test_embedded_checkpoint_cache_is_reverified(embedded_checkpoint):
    from kokoro_lab.hub import embedded_checkpoint_path
    from kokoro_lab.io import sha256_file

    digest = embedded_checkpoint.with_suffix(".sha256").read_text().strip()
    assert sha256_file(embedded_checkpoint) == digest
    assert embedded_checkpoint_path() == embedded_checkpoint
