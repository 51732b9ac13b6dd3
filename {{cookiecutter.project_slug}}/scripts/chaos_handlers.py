"""The chaos drill's and the soak's jobs, loaded through HANDLER_MODULES by scripts/chaos.py.

``chaos-record`` writes one line per execution to the ledger file named by
``CHAOS_LEDGER``: outside Redis, so a Redis crash cannot erase the evidence,
and appended with O_APPEND, so lines from several processes never interleave.
Its only effect is "this id was handled", which the drill reads as a set:
running it twice changes nothing (idempotent), and the extra line is how the
drill counts executions beyond the first (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time

from {{ cookiecutter.package_name }}.registry import Job, handler


@functools.cache
def _ledger_fd() -> int:
    """One descriptor per worker process, opened on first use."""
    return os.open(os.environ["CHAOS_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


@handler("chaos-record")
async def record(job: Job) -> None:
    # Recorded when the handler starts: a job interrupted half-way and run again
    # counts twice, as its side effects would.
    os.write(_ledger_fd(), f"{job.id} {os.getpid()} {time.time():.6f}\n".encode())
    await asyncio.sleep(float(job.data.get("seconds", 0)))


@handler("chaos-noop")
async def noop(job: Job) -> None:
    return None
