"""Handlers the behaviour tests enqueue; loaded through HANDLER_MODULES."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import warnings

from {{ cookiecutter.package_name }}.registry import CpuJob, Job, UnrecoverableError, handler


@handler("test-fail")
async def fail(job: Job) -> None:
    raise RuntimeError(f"test-fail job {job.id} failed on purpose")


@handler("test-background-crash")
async def background_crash(job: Job) -> str:
    async def crash() -> None:
        raise RuntimeError("background task crashed on purpose")

    # A task nobody awaits: its error reaches only the loop's exception handler.
    task = asyncio.get_running_loop().create_task(crash())
    del task
    return "spawned"


@handler("test-log")
async def log_lines(job: Job) -> None:
    """Logs through the service's logger, a library's logger and ``warnings`` (see test_logs.py)."""
    logging.getLogger(__name__).info("handler line")
    logging.getLogger("bullmq.test").warning("library line")
    warnings.warn("warning line", UserWarning, stacklevel=1)
    if job.data.get("fail_first") and job.attemptsMade == 0:
        raise RuntimeError("first attempt fails on purpose")


# --- worker runtime: shutdown, faults, hooks (tests/test_shutdown.py, test_faults.py, test_hooks.py) ---


@handler("test-slow-first-run")
async def slow_first_run(job: Job) -> dict:
    """Sleep ``data["seconds"]`` on the job's first start; return at once when it runs again.

    Lets a shutdown test interrupt a long job and see a second worker finish it
    quickly. Like a careless handler, it swallows the cancellation of a forced
    close and returns, which makes bullmq emit "completed" for a job it never
    completed.
    """
    first = job.attemptsStarted <= 1
    if first:
        try:
            await asyncio.sleep(job.data.get("seconds", 30))
        except asyncio.CancelledError:
            return {"cancelled": True}
    return {"first_run": first, "started": job.attemptsStarted}


@handler("test-unrecoverable")
async def unrecoverable(job: Job) -> None:
    raise UnrecoverableError(f"test-unrecoverable job {job.id} must not be retried")


@handler("test-awaits-cancelled")
async def awaits_cancelled(job: Job) -> None:
    """Await a task somebody else cancelled: CancelledError escapes the handler."""
    other = asyncio.get_running_loop().create_task(asyncio.sleep(60))
    other.cancel()
    await other


class LoopBreakerError(BaseException):
    """Not an Exception: bullmq's loop does not catch it, so run() ends (the watchdog's case)."""


@handler("test-break-worker-loop")
async def break_worker_loop(job: Job) -> None:
    raise LoopBreakerError(f"test-break-worker-loop job {job.id}")


@handler("test-thread-crash")
async def thread_crash(job: Job) -> str:
    def crash() -> None:
        raise RuntimeError("thread crashed on purpose")

    thread = threading.Thread(target=crash, name=f"test-thread-{job.id}")
    thread.start()
    thread.join()
    return "thread ran"


@handler("test-lose-lock")
async def lose_lock(job: Job) -> str:
    """Delete this job's lock, as an expired lock would: finishing it then makes bullmq emit ``error``."""
    await job.queue.client.delete(f"{job.queue.qualifiedName}:{job.id}:lock")
    return "lock gone"


# --- performance: CPU-bound handlers (test_cpu_bound.py) ---
def _spin(data: dict) -> dict:
    """Compute without yielding for ``data["seconds"]``; note each run in ``data["record"]``."""
    with open(data["record"], "a", encoding="utf-8") as record:
        record.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + data["seconds"]
    while time.monotonic() < deadline:
        sum(range(1000))
    return {"spun": data["seconds"]}


@handler("test-spin", cpu_bound=True)
def spin(job: CpuJob) -> dict:
    return _spin(job.data)


@handler("test-spin-on-loop")
async def spin_on_loop(job: Job) -> dict:
    """The same work without the defence: it blocks the event loop."""
    return _spin(job.data)


# --- end performance ---
