"""CPU-bound handlers: ``@handler("name", cpu_bound=True)`` runs them in a process pool.

Why: bullmq renews each job's lock from the same event loop that runs the
handlers. A handler that computes for longer than the lock duration without
awaiting blocks that loop, the lock expires, and BullMQ marks the job stalled
and hands it to another worker: the job runs twice (or fails once
``maxStalledCount`` is reached). In a pool process the computation cannot
block the loop, so locks keep being renewed.

A CPU-bound handler is a plain ``def`` (not ``async def``) at module level
that takes a :class:`CpuJob` and returns a JSON-serialisable result. It runs in
another process, so its argument and result are pickled: it gets a copy of the
job's id, name, data and attempt count, not the live bullmq ``Job``, and it
must be importable by name (no lambdas, closures or nested functions).
Exceptions work as usual (``UnrecoverableError`` fails without retries).

The pool (CPU_POOL_SIZE processes, default one per CPU) starts on the first
CPU-bound job, so services without such handlers never start it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from .shutdown import ignore_interrupts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CpuJob:
    """What a CPU-bound handler gets: a picklable copy of the job."""

    id: str
    name: str
    data: dict[str, Any]
    attempts_made: int


CpuHandler = Callable[[CpuJob], Any]

_pool: ProcessPoolExecutor | None = None
_pool_size = os.cpu_count() or 1


def configure(pool_size: int) -> None:
    """Set the pool size (CPU_POOL_SIZE) before the first CPU-bound job."""
    global _pool_size
    _pool_size = pool_size


def in_pool(name: str, function: CpuHandler) -> Callable[[Any], Awaitable[Any]]:
    """An ``async`` handler for the router that runs ``function`` in the pool."""
    _check(name, function)

    async def offloaded(job: Any) -> Any:
        copy = CpuJob(id=str(job.id), name=job.name, data=job.data, attempts_made=job.attemptsMade)
        try:
            return await asyncio.get_running_loop().run_in_executor(_get_pool(), function, copy)
        except BrokenProcessPool:
            # A pool process died (killed, out of memory): start a fresh pool for
            # the next job; this attempt fails and BullMQ retries it.
            _discard_pool()
            raise

    offloaded.__name__ = offloaded.__qualname__ = f"cpu_bound[{function.__qualname__}]"
    return offloaded


def close() -> None:
    """Stop the pool's processes (after the worker has finished its jobs)."""
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _discard_pool()


def _check(name: str, function: CpuHandler) -> None:
    if inspect.iscoroutinefunction(function) or not callable(function):
        raise TypeError(f"cpu_bound handler for {name!r} must be a plain def taking a CpuJob, not async def")
    if "<locals>" in getattr(function, "__qualname__", "<locals>"):
        raise TypeError(f"cpu_bound handler for {name!r} must be defined at module level (it is pickled by name)")


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # spawn, not fork: forking a process with a running event loop, open
        # sockets and threads is unsafe.
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(_pool_size, mp_context=context, initializer=ignore_interrupts)
        log.info("cpu pool started", extra={"event": "cpu_pool_started", "processes": _pool_size})
    return _pool


def _discard_pool() -> None:
    global _pool
    _pool = None
