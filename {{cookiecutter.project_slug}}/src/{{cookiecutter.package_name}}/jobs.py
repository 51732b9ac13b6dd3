"""Your handlers: one ``async def`` per job name.

This file belongs to your team; template updates never overwrite it.

Jobs are delivered at least once: after a crash or a forced shutdown a job
can run again, so every handler must be idempotent (safe to repeat).
Raise ``UnrecoverableError`` to fail a job without retrying it; any other
exception fails this attempt and BullMQ retries with backoff.
"""

from __future__ import annotations

import asyncio

from .registry import Job, UnrecoverableError, handler


@handler("echo")
async def echo(job: Job) -> dict:
    """Return the job's data unchanged: a smoke test for the whole pipeline."""
    return {"echo": job.data}


@handler("sleep")
async def sleep(job: Job) -> dict:
    """Sleep for ``data["seconds"]``: shows how shutdown treats long jobs."""
    seconds = job.data.get("seconds", 1)
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise UnrecoverableError("data.seconds must be a non-negative number")
    await asyncio.sleep(seconds)
    return {"slept": seconds}
