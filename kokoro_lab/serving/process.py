"""A running speech server, for the load test, the tests and notebooks: in a child process
(`python scripts/serve.py port=PORT ...`, stopped with SIGTERM) or in a thread of this process
(`serve_in_thread`, an app already built); both on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from kokoro_lab.errors import UserError

SERVE_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "serve.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def server_process(
    overrides: Sequence[str] = (),
    *,
    log_path: str | os.PathLike,
    env: Mapping[str, str] | None = None,
    startup_s: float = 300.0,
    stop_s: float = 120.0,
) -> Iterator[ServerProcess]:
    """Run scripts/serve.py with `overrides` on a free port; yields once /health answers. On
    exit: SIGTERM, wait (the exit code lands in `.returncode`), SIGKILL only past `stop_s`."""
    port = free_port()
    log_path = Path(log_path)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(SERVE_SCRIPT), f"port={port}", *overrides],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if process.poll() is not None:
                raise UserError(f"the server exited ({process.returncode}): {server.log()[-2000:]}")
            try:
                if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no /health after {startup_s} s: {server.log()[-2000:]}")
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(stop_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        server.returncode = process.returncode


@contextmanager
def serve_in_thread(app, startup_s: float = 60.0) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields its base URL and
    shuts it down (draining requests, running the app's shutdown) on exit."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(startup_s)
