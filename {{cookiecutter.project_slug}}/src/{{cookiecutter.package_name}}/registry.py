"""The ``@handler("job-name")`` decorator and the table it fills.

Handlers are ``async def`` functions that take the bullmq ``Job``; the worker
dispatches each job to the handler registered under its name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bullmq import Job, UnrecoverableError

from . import offload
from .offload import CpuJob

Handler = Callable[[Job], Awaitable[Any]]

HANDLERS: dict[str, Handler] = {}

__all__ = ["HANDLERS", "CpuJob", "Job", "UnrecoverableError", "handler", "lookup"]


def handler(name: str, *, cpu_bound: bool = False) -> Callable[[Handler], Handler]:
    """Register an ``async def`` function as the handler of jobs named ``name``.

    ``cpu_bound=True``: a plain ``def`` taking a ``CpuJob``, run in a process
    pool so it cannot block the event loop (see offload.py).
    """

    def register(function: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"job name {name!r} already has a handler: {HANDLERS[name].__qualname__}")
        if cpu_bound:  # performance: offload.py; the function itself stays importable for pickling
            HANDLERS[name] = offload.in_pool(name, function)
            return function
        if not callable(function) or not _is_async(function):
            raise TypeError(f"handler for {name!r} must be an async def function")
        HANDLERS[name] = function
        return function

    return register


def lookup(name: str) -> Handler:
    """The handler for ``name``; an unknown name fails its job without retries."""
    try:
        return HANDLERS[name]
    except KeyError:
        known = ", ".join(sorted(HANDLERS)) or "none"
        raise UnrecoverableError(f"no handler for job name {name!r} (known: {known})") from None


def _is_async(function: Callable) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)
