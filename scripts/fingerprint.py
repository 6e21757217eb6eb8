"""Behaviour fingerprint of a checkout: what the public scripts write for fixed seeds, hashed.

A refactor must not change behaviour. Run this on the commit before and after and diff the two
JSON files: audio, phonemes, training losses, exported weights and a fitted voicepack must match
bit for bit (timings are left out).

    python scripts/fingerprint.py --root /path/to/checkout --out before.json
    python scripts/fingerprint.py --out after.json && diff before.json after.json

It runs the checkout's own scripts (`--root`, default: this one) in child processes with that
checkout first on PYTHONPATH, through the command-line keys that are the scripts' contract.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

TIMING_KEYS = {"seconds", "wall_s", "elapsed", "time", "rtf", "duration_s", "created", "command"}
#: Harvard sentences, list 1 (IEEE 1969, public domain).
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def audio_sha(path: Path) -> str:
    audio, rate = sf.read(path, dtype="float32")
    return f"{rate}:{len(audio)}:{sha(np.ascontiguousarray(audio).tobytes())}"


def tensors_sha(path: Path) -> str:
    """Hash of every tensor of a torch file, in key order (pickle bytes may differ)."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    h = hashlib.sha256()

    def walk(x, prefix=""):
        if isinstance(x, torch.Tensor):
            h.update(prefix.encode() + x.detach().contiguous().numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k], f"{prefix}/{k}")

    walk(obj)
    return h.hexdigest()[:16]


def without_timings(x):
    if isinstance(x, dict):
        return {
            k: without_timings(v)
            for k, v in x.items()
            if k not in TIMING_KEYS and not k.endswith(("_seconds", "_s", "_dir", "path", "file"))
        }
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    if isinstance(x, float):
        return round(x, 6)
    return x


class Runner:
    def __init__(self, root: Path, work: Path):
        self.root, self.work = root, work
        self.env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "HF_HUB_OFFLINE": "1",
            "WANDB_MODE": "offline",
            "PYTHONHASHSEED": "0",
        }

    def script(self, name: str, *args: str) -> str:
        cmd = [sys.executable, str(self.root / "scripts" / name), *args]
        proc = subprocess.run(cmd, env=self.env, cwd=self.work, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout


def fingerprint(root: Path) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = Runner(root, work)
        sentences = list(SENTENCES)
        texts = work / "lines.txt"
        texts.write_text("\n".join(sentences) + "\n")

        # inference: the default voice, an English misaki run with timestamps, Japanese
        cases = {
            "default": ["text=The birch canoe slid on the smooth planks."],
            "alpha_misaki": [
                "+voice=jf_alpha",
                "lang=en-us",
                "g2p=misaki",
                "text=It's 5:30 p.m. on Dec. 3rd; read the $12.50 bill!",
                "timestamps=true",
            ],
            "kumo_japanese": ["+voice=jm_kumo", "text=今日はいい天気ですね。"],
            "mix_speed": ["voice_mix=jf_alpha:0.7+jm_kumo:0.3", "speed=1.2", "seed=3", "text=Hi."],
        }
        for name, args in cases.items():
            wav = work / f"{name}.wav"
            run.script("infer.py", *args, f"output={wav}", "threads=1")
            out[f"infer/{name}"] = audio_sha(wav)
            stamps = wav.with_suffix(".json")
            if stamps.exists():
                out[f"infer/{name}/timestamps"] = sha(stamps.read_bytes())
        out["phonemize"] = run.script(
            "phonemize.py", f"text_file={texts}", "+voice=jf_alpha", "lang=en-us", "g2p=misaki"
        ).splitlines()

        # a folder of one speaker for voice fitting: infer lines=true + metadata.csv
        folder = work / "speaker"
        run.script(
            "infer.py",
            "+voice=jf_tebukuro",
            "lang=en-us",
            f"text_file={texts}",
            "lines=true",
            f"output_dir={folder / 'wavs'}",
            "threads=1",
        )
        wavs = sorted((folder / "wavs").glob("*.wav"))
        out["infer/lines"] = [audio_sha(w) for w in wavs]
        rows = [f"{w.stem}|{s}" for w, s in zip(wavs, sentences, strict=True)]
        (folder / "metadata.csv").write_text("\n".join(rows) + "\n")

        fit = work / "fit"
        run.script(
            "finetune_voice.py",
            f"data_dir={folder}",
            "name=tiny",
            "init_voice=jm_kumo",
            f"output_dir={fit}",
            "steps=2",
            "prosody_steps=3",
            "crop_seconds=0.3",
            "val_every=1",
            "checkpoint_every=1",
            "lang=en-us",
            "threads=1",
        )
        out["finetune_voice/pack"] = tensors_sha(fit / "tiny.pt")
        out["finetune_voice/wav"] = audio_sha(fit / "tiny.wav")
        out["finetune_voice/metrics"] = without_timings(
            json.loads((fit / "metrics.json").read_text())
        )

        train = work / "train"
        run.script(
            "train.py",
            "experiment=tiny_overfit",
            "logger=none",
            "threads=1",
            "trainer.max_steps=6",
            "training.schedule.joint_start=2",
            "training.schedule.adversarial_start=4",
            f"hydra.run.dir={train}",
        )
        out["train/history"] = [
            without_timings(json.loads(line))
            for line in (train / "history.jsonl").read_text().splitlines()
        ]
        out["train/checkpoint"] = tensors_sha(train / "kokoro.pth")
        out["train/voices"] = {p.name: tensors_sha(p) for p in sorted((train / "voices").glob("*"))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = fingerprint(args.root.resolve())
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
