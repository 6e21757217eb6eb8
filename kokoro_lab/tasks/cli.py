"""Entry points: a Hydra command (`python -m kokoro_lab TASK`, scripts/TASK.py) running a
`task(cfg)` function. `kokoro_lab.tasks.entries` registers each command as

    hydra_entry("infer", infer, free_text=("text", "phonemes"), on_result=print_result)

Free-text keys take any shell string verbatim (`kokoro_lab.tasks.argv`). Before Hydra runs, the
command line is composed once with the schemas registered (`kokoro_lab.schemas`), so a
mistyped key, a wrong type or an unknown group option is a user error before any output
directory exists; the task then gets Hydra's config, validated again (keys added with `+`).
User errors become one `error: ...` line and exit code 2.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import hydra

from kokoro_lab.errors import UserError
from kokoro_lab.hydra_configs import config_dir
from kokoro_lab.schemas import compose_config, register_configs, validate
from kokoro_lab.tasks.argv import argv_as, rewrite_free_text

#: What an entry point reports as one line and exit 2; every other exception is a bug.
USER_ERRORS = (UserError,)


@contextmanager
def user_errors() -> Iterator[None]:
    """USER_ERRORS inside the block print `error: MESSAGE` and exit 2 (the full traceback with
    HYDRA_FULL_ERROR=1); anything else is a bug and keeps its traceback."""
    try:
        yield
    except USER_ERRORS as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":  # the full traceback, for debugging
            raise
        logging.getLogger("kokoro_lab").debug("task failed", exc_info=True)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def run_task(task: Callable, cfg, config_name: str | None = None) -> object:
    """`task(cfg)`, with user errors reported as one line and exit code 2; with `config_name`,
    `cfg` is first validated against that config's schema (kokoro_lab.schemas.validate)."""
    with user_errors():
        if config_name is not None:
            validate(cfg, config_name)
        return task(cfg)


#: Hydra command-line flags after which no task runs, or not on one composed config.
_NOT_ONE_RUN = ("help", "hydra_help", "info", "shell_completion", "multirun", "experimental_rerun")


def check_command_line(config_name: str, path, args: Sequence[str]) -> None:
    """Compose `configs/CONFIG_NAME.yaml` with the overrides in `args` and validate it, as the
    run will: a UserError for a bad key, type or group option. Command lines that do not run
    one composed config (--help, --multirun, another --config-name, ...) are left to Hydra."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed = get_args_parser().parse_args(list(args))
    except SystemExit:  # argparse's own usage error: Hydra reports it
        return
    other_config = parsed.config_name or parsed.config_path or parsed.config_dir
    if other_config or any(getattr(parsed, flag) for flag in _NOT_ONE_RUN):
        return
    compose_config(config_name, parsed.overrides, config_dir=str(path))


@dataclass(frozen=True)
class HydraEntry:
    """A command: compose `config_name` from `config_dir()` with the command-line overrides, run
    `task(cfg)`, hand its result to `on_result`. Keys in `free_text` take verbatim text."""

    config_name: str
    task: Callable[[Any], Any]
    free_text: tuple[str, ...] = ()
    on_result: Callable[[Any], None] | None = None
    #: Hydra's job name (its log file `NAME.log`); default: the task function's name.
    job_name: str | None = None

    def __call__(
        self, args: Sequence[str] | None = None, *, relaunch_prefix: Sequence[str] = ()
    ) -> None:
        """Run with `args` (default `sys.argv[1:]`). While the task runs, `sys.argv` is
        `[sys.argv[0], *relaunch_prefix, *args with free text rewritten]`: what a process
        re-running the command line (Lightning's DDP launcher) needs to get the same config.
        `python -m kokoro_lab` passes its command name as `relaunch_prefix`."""
        argv0 = sys.argv[0]
        with user_errors():
            args = rewrite_free_text(sys.argv[1:] if args is None else args, self.free_text)
            path = config_dir()
            register_configs()  # configs/NAME.yaml's defaults list starts with NAME_schema
            check_command_line(self.config_name, path, args)

        def run(cfg) -> None:
            with argv_as([argv0, *relaunch_prefix, *args]):
                result = run_task(self.task, cfg, self.config_name)
            if self.on_result is not None:
                self.on_result(result)

        # Hydra names the job after the task function's module when it is not __main__
        run.__module__ = self.job_name or self.task.__name__
        main = hydra.main(version_base="1.3", config_path=str(path), config_name=self.config_name)
        with argv_as([argv0, *args]):  # Hydra parses sys.argv[1:]
            main(run)()


def hydra_entry(
    config_name: str,
    task: Callable[[Any], Any],
    *,
    free_text: Sequence[str] = (),
    on_result: Callable[[Any], None] | None = None,
    job_name: str | None = None,
) -> HydraEntry:
    """The `main` of a script running `task` on `configs/CONFIG_NAME.yaml` (see HydraEntry)."""
    return HydraEntry(config_name, task, tuple(free_text), on_result, job_name)
