"""A bounded queue in front of `workers` synthesis threads, batching jobs that can share a batch.

The event loop submits a Job and awaits its outputs; a worker thread takes the oldest waiting
job and, when it has a `batch_key`, the other waiting jobs with the same key (up to
`max_batch`), and runs them through `run(jobs)`. At most `max_queue` jobs wait (the running ones
not counted); one more is refused with QueueFull (503 and Retry-After). A job whose client went
away or whose deadline passed is `cancelled`: a waiting one is dropped, a running one stops at
its next chunk (the runner checks `job.live`).

Outputs go from the worker thread to the job's asyncio queue through the loop's
`call_soon_threadsafe`; the runner emits chunks (or an exception), and the scheduler ends every
job's outputs with DONE.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from kokoro_lab.serving.errors import QueueFull, ShuttingDown

log = logging.getLogger(__name__)

#: The last output of a job that ended normally.
DONE = object()


@dataclass(eq=False)
class Job:
    """One request's synthesis: `payload` for the runner, `batch_key` (None: runs alone),
    `deadline` (time.monotonic() seconds), and the queue its outputs arrive on."""

    payload: Any
    batch_key: Hashable | None
    deadline: float
    request_id: str = "-"
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    outputs: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    @property
    def live(self) -> bool:
        """Worth working on: not cancelled and within its deadline."""
        return not self.cancelled.is_set() and not self.expired

    def emit(self, item) -> None:
        """Hand `item` to the awaiting request (from any thread)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.outputs.put_nowait, item)

    def cancel(self) -> None:
        self.cancelled.set()


@dataclass
class Stats:
    """Counters shown by GET /health."""

    submitted: int = 0
    rejected: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    batches: int = 0
    batched_jobs: int = 0
    running: int = 0


class Scheduler:
    """`workers` threads running `run(jobs)`; see the module docstring."""

    def __init__(
        self,
        run: Callable[[list[Job]], None],
        workers: int = 1,
        max_queue: int = 8,
        max_batch: int = 4,
    ):
        self._run = run
        self.workers = workers
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.stats = Stats()
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._job_seconds = 2.0  # running mean of a job's time, for Retry-After
        self._threads = [
            threading.Thread(target=self._work, name=f"kokoro-synth-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the queue ahead of it at the mean job time."""
        ahead = (len(self._waiting) + self.stats.running) / max(self.workers, 1)
        return max(1, math.ceil(ahead * self._job_seconds))

    def submit(self, job: Job) -> None:
        """Queue `job`, or raise QueueFull (with Retry-After) / ShuttingDown."""
        with self._cond:
            if self._closing:
                raise ShuttingDown("the server is shutting down: retry on another instance")
            if len(self._waiting) >= self.max_queue:
                self.stats.rejected += 1
                retry = self.retry_after_s()
                raise QueueFull(
                    f"the server is busy: {len(self._waiting)} requests are waiting (max_queue="
                    f"{self.max_queue}); retry after {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            self._waiting.append(job)
            self.stats.submitted += 1
            self._cond.notify()

    def _take(self) -> list[Job] | None:
        """The next batch to run (oldest live job first), or None once closed and drained."""
        with self._cond:
            while True:
                while self._waiting and not self._waiting[0].live:
                    self._drop(self._waiting.popleft())
                if self._waiting:
                    break
                if self._closing:
                    return None
                self._cond.wait()
            first = self._waiting.popleft()
            jobs = [first]
            if first.batch_key is not None:
                for job in list(self._waiting):
                    if len(jobs) >= self.max_batch:
                        break
                    if job.batch_key == first.batch_key and job.live:
                        self._waiting.remove(job)
                        jobs.append(job)
            self.stats.running += len(jobs)
            return jobs

    def _drop(self, job: Job) -> None:
        self.stats.cancelled += 1
        job.emit(DONE)

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            start, failed = time.monotonic(), False
            try:
                self._run(jobs)
            except Exception as err:  # a bug in the runner: every job hears of it, the worker lives
                log.exception("synthesis failed for %s", [j.request_id for j in jobs])
                failed = True
                for job in jobs:
                    job.emit(err)
            elapsed = time.monotonic() - start
            with self._cond:
                self.stats.running -= len(jobs)
                self.stats.batches += 1
                self.stats.batched_jobs += len(jobs) if len(jobs) > 1 else 0
                for job in jobs:
                    if failed:
                        self.stats.failed += 1
                    elif job.live:
                        self.stats.completed += 1
                    else:
                        self.stats.cancelled += 1
                self._job_seconds = 0.8 * self._job_seconds + 0.2 * elapsed / len(jobs)
            for job in jobs:  # after the counting: an awaiting request cancels its job when done
                job.emit(DONE)

    def close(self, timeout: float | None = None) -> None:
        """Refuse new jobs, let the waiting ones run, and join the workers."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
