"""Test-only access to hexgrad's official `kokoro` 0.9.4 (installed with --no-deps).

The package `__init__` imports its pipeline (misaki, phonemizer-fork), which we do not install, so
the model files are imported through a bare package object that skips `__init__`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def import_official(submodule: str):
    """Import `kokoro.<submodule>` (model, modules, istftnet, custom_stft) without its __init__."""
    if "kokoro" not in sys.modules or not hasattr(sys.modules["kokoro"], "__path__"):
        spec = importlib.util.find_spec("kokoro")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("hexgrad's kokoro==0.9.4 is a test dependency: run scripts/setup.sh")
        pkg = types.ModuleType("kokoro")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["kokoro"] = pkg
    return importlib.import_module(f"kokoro.{submodule}")


def official_config(vocab: dict[str, int]) -> dict:
    """The v1.0 config.json of hexgrad/Kokoro-82M (sizes), with the given vocab."""
    return {
        "istftnet": {
            "upsample_kernel_sizes": [20, 12],
            "upsample_rates": [10, 6],
            "gen_istft_hop_size": 5,
            "gen_istft_n_fft": 20,
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
            "resblock_kernel_sizes": [3, 7, 11],
            "upsample_initial_channel": 512,
        },
        "dim_in": 64,
        "dropout": 0.2,
        "hidden_dim": 512,
        "max_conv_dim": 512,
        "max_dur": 50,
        "multispeaker": True,
        "n_layer": 3,
        "n_mels": 80,
        "n_token": 178,
        "style_dim": 128,
        "text_encoder_kernel_size": 5,
        "plbert": {
            "hidden_size": 768,
            "num_attention_heads": 12,
            "intermediate_size": 2048,
            "max_position_embeddings": 512,
            "num_hidden_layers": 12,
            "dropout": 0.1,
        },
        "vocab": vocab,
    }


def build_kmodel(checkpoint_path: str, vocab: dict[str, int]):
    """hexgrad's KModel on a local official-layout checkpoint (never touches the hub)."""
    kmodel_mod = import_official("model")
    return kmodel_mod.KModel(
        repo_id="hexgrad/Kokoro-82M", config=official_config(vocab), model=checkpoint_path
    ).eval()
