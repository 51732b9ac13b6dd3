"""Handlers the behaviour tests enqueue; loaded through HANDLER_MODULES."""

from __future__ import annotations

import asyncio
import os
import time

from {{ cookiecutter.package_name }}.registry import CpuJob, Job, handler


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
