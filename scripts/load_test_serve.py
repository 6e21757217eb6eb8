"""Load-test the speech server (docs/serving.md, results in docs/serve_load.json):

    python scripts/load_test_serve.py [OUT.json] [--concurrent 50] [--sequential 500]

starts `scripts/serve.py workers=1 max_queue=8` on a free port, sends a burst of concurrent
requests of mixed lengths, then streamed requests one after another, transcribes the audio with
Whisper, stops the server with SIGTERM and writes the report (machine included)."""

import argparse
import json
import logging
import os
import tempfile

from kokoro_lab.evaluation.machine import machine
from kokoro_lab.serving.load_test import run_load_test
from kokoro_lab.serving.process import server_process

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="docs/serve_load.json")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides = ["workers=1", "max_queue=8", "hydra.run.dir=" + tempfile.mkdtemp()]
    log_path = os.path.join(tempfile.mkdtemp(), "serve.log")
    with server_process(overrides, log_path=log_path) as server:
        report = run_load_test(
            server.base_url,
            pid=server.pid,
            concurrent=args.concurrent,
            sequential=args.sequential,
            warmup=args.warmup,
        )
    report = {
        "command": f"python scripts/load_test_serve.py --concurrent {args.concurrent} "
        f"--sequential {args.sequential}",
        "server_overrides": overrides[:2],
        "server_exit_code_after_sigterm": server.returncode,
        "machine": machine(),
        **report,
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    keys = ("burst", "burst_asr", "streaming", "sequence", "sequence_asr", "rss", "server_stats")
    print(json.dumps({k: report[k] for k in keys}, indent=1))
