"""Handlers the behaviour tests enqueue; loaded through HANDLER_MODULES."""

from __future__ import annotations

import asyncio
import logging
import warnings

from {{ cookiecutter.package_name }}.registry import Job, handler


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
