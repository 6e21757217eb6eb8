"""Running a task from a Hydra script: user errors become one clear message and exit code 2."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from kokoro_lab.checkpoint import CheckpointError

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, CheckpointError)


def run_task(task: Callable, cfg) -> object:
    try:
        return task(cfg)
    except USER_ERRORS as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # the full traceback, for debugging
            raise
        logging.getLogger("kokoro_lab").debug("task failed", exc_info=True)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
