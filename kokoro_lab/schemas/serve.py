"""`configs/serve.yaml`'s schema: the keys of `scripts/serve.py`, the speech server.

    python scripts/serve.py [port=8880] [workers=1] [max_queue=8] [key=value ...]

Serves on http://127.0.0.1:PORT until SIGTERM, then drains in-flight requests and exits 0. The
optional API key comes from the environment variable KOKORO_LAB_API_KEY only (a command-line key
would be written to Hydra's run directory). docs/serving.md explains every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kokoro_lab.schemas.model import ModelConfig


@dataclass
class ServeConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    host: str = "127.0.0.1"  # 0.0.0.0 exposes the server to the network (set an API key)
    port: int = 8880
    # name -> checkpoint (null/embedded = the offline default; v1.0 | v0.19 = hub; a .pth), each
    # loaded once; requests choose one by `model` (kokoro, tts-1, tts-1-hd: the first). Two for
    # A/B: 'checkpoints={kokoro: null, tuned: runs/x/kokoro.pth}'
    checkpoints: dict[str, str | None] = field(default_factory=lambda: {"kokoro": None})
    voices_dir: str | None = None  # a folder of NAME.pt voicepacks for catalogue voices
    # exact (float32, the default) | int8 | bf16 | onnx | fastest: as scripts/infer.py engine=
    engine: str = "exact"
    # true: as scripts/infer.py compile=; compiled before the server takes requests
    compile: bool = False
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads (default: torch's)
    # default language of requests without `lang`; null: the voice's (en-us for no voice)
    lang: str | None = None
    seed: int | None = 0  # excitation noise seed: a request gives the same audio every time
    workers: int = 1  # concurrent syntheses (threads sharing each model)
    max_queue: int = 8  # requests waiting for a worker; one more gets 503 + Retry-After
    max_batch: int = 4  # waiting requests alike (model, voice, lang, speed) run as one batch
    max_chars: int = 4096  # longer input gets 413
    # queueing + synthesis; past it 504 (a stream just ends). A full queue of sentence-long
    # requests on 2 busy cores waited over 120 s (docs/serving.md)
    timeout_s: float = 300.0
    cors_origins: list[str] = field(default_factory=list)  # browser origins allowed; none: CORS off
    drain_s: float = 30.0  # after SIGTERM, how long in-flight requests may still run
