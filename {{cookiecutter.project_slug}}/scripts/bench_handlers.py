"""The benchmark's jobs as service handlers (loaded through HANDLER_MODULES by bench.py).

The same work the plain bullmq and Node workers do: nothing, or a 10 ms await.
"""

from __future__ import annotations

import asyncio

from {{ cookiecutter.package_name }}.registry import Job, handler


@handler("bench-noop")
async def noop(job: Job) -> None:
    return None


@handler("bench-sleep")
async def sleep(job: Job) -> None:
    await asyncio.sleep(0.01)
