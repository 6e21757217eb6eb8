"""`python scripts/serve.py`: load the checkpoints once, serve the app with uvicorn until SIGTERM.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits up to `drain_s` for the
requests in flight; the scheduler then finishes what is queued and the process exits 0. uvicorn
re-raises the signal it caught once it has shut down; the handler installed here for the run
takes it, so the exit is the task's own (0), not death by signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

from kokoro_lab.acceleration.engine import apply_engine, check_engine, require_cpu
from kokoro_lab.errors import UserValueError
from kokoro_lab.hydra_configs import model_config_from
from kokoro_lab.runtime import process_state

log = logging.getLogger(__name__)

#: The environment variable holding the API key (never a config key: Hydra records configs).
API_KEY_ENV = "KOKORO_LAB_API_KEY"


def check_config(cfg: DictConfig) -> None:
    """UserValueError naming the key for a value the server cannot run with."""
    require_cpu(check_engine(cfg.engine), cfg.device)
    if not cfg.checkpoints:
        raise UserValueError("checkpoints is empty: give at least one, e.g. {kokoro: null}")
    limits = {"workers": 1, "max_queue": 0, "max_batch": 1, "max_chars": 1}
    for key, least in limits.items():
        if int(cfg[key]) < least:
            raise UserValueError(f"{key}={cfg[key]} must be at least {least}")
    if not float(cfg.timeout_s) > 0:
        raise UserValueError(f"timeout_s={cfg.timeout_s} must be a positive number of seconds")
    if not 0 < int(cfg.port) < 65536:
        raise UserValueError(f"port={cfg.port} is not a TCP port (1..65535)")


def build_service(cfg: DictConfig):
    """The SpeechService a config describes: each checkpoint loaded once, by name."""
    from kokoro_lab.model import load_model
    from kokoro_lab.serving.speech import SpeechService
    from kokoro_lab.serving.voices import VoiceBook

    config = model_config_from(cfg.model)
    models = {}
    for name, source in cfg.checkpoints.items():
        log.info("loading checkpoint %s (%s)", name, source or "embedded default")
        models[str(name)] = load_model(source, config=config, device=cfg.device)
        engine = apply_engine(models[str(name)], cfg.engine, compile=cfg.get("compile", False))
        if engine != "exact":
            log.info("checkpoint %s runs engine=%s", name, engine)
        if cfg.get("compile"):
            from kokoro_lab.acceleration.compiled import warm_up

            log.info("compiling checkpoint %s's generator (35-45 s, once)", name)
            warm_up(models[str(name)])
    return SpeechService(
        models,
        VoiceBook(cfg.get("voices_dir")),
        workers=int(cfg.workers),
        max_queue=int(cfg.max_queue),
        max_batch=int(cfg.max_batch),
        max_chars=int(cfg.max_chars),
        timeout_s=float(cfg.timeout_s),
        lang=cfg.get("lang"),
        seed=cfg.get("seed"),
    )


@contextlib.contextmanager
def exit_cleanly_on_signals() -> Iterator[list[int]]:
    """SIGTERM and SIGINT recorded instead of killing the process, for the block (the list it
    yields holds them); the previous handlers come back after."""
    caught: list[int] = []
    signals = (signal.SIGTERM, signal.SIGINT)
    before = {sig: signal.signal(sig, lambda sig, frame: caught.append(sig)) for sig in signals}
    try:
        yield caught
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def serve(cfg: DictConfig) -> str:
    """Serve until SIGTERM; returns how it ended. `threads=` and the tuned allocator hold only
    while it runs (kokoro_lab.runtime.process_state)."""
    import uvicorn

    from kokoro_lab.serving.app import create_app

    check_config(cfg)
    api_key = os.environ.get(API_KEY_ENV) or None
    with process_state(threads=cfg.get("threads"), tune_malloc=True):
        service = build_service(cfg)
        cors = OmegaConf.to_container(cfg.cors_origins) if cfg.get("cors_origins") else []
        app = create_app(service, api_key=api_key, cors_origins=cors)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=cfg.host,
                port=int(cfg.port),
                log_config=None,  # Hydra's logging; our RequestIds middleware logs requests
                access_log=False,
                timeout_graceful_shutdown=float(cfg.drain_s),
            )
        )
        log.info(
            "serving %s on http://%s:%d (API key %s)",
            ", ".join(service.models),
            cfg.host,
            int(cfg.port),
            "required" if api_key else "off",
        )
        with exit_cleanly_on_signals() as caught:
            try:
                server.run()
            except SystemExit:  # uvicorn's answer to a port it cannot bind
                pass
        if not server.started:
            raise UserValueError(
                f"could not serve on {cfg.host}:{cfg.port} (in use, or not an address here): "
                "choose another port="
            )
    return f"stopped by {signal.Signals(caught[0]).name}" if caught else "stopped"
