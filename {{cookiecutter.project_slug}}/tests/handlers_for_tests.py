"""Handlers the behaviour tests enqueue; loaded through HANDLER_MODULES."""

from __future__ import annotations

import asyncio

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
