"""The ``@handler("job-name")`` and ``@listener("event")`` decorators and the tables they fill.

Handlers are ``async def`` functions that take the bullmq ``Job``; the worker
dispatches each job to the handler registered under its name.

Listeners are plain ``def`` functions bullmq calls on worker events. bullmq
calls them synchronously inside its own loop and never awaits them, so an
``async def`` listener is refused here: its body would silently never run.
listeners.py wraps every listener so that nothing it raises reaches bullmq.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from bullmq import Job, UnrecoverableError

from . import offload
from .offload import CpuJob

Handler = Callable[[Job], Awaitable[Any]]
Listener = Callable[..., None]

HANDLERS: dict[str, Handler] = {}
LISTENERS: dict[str, list[Listener]] = {}

# The events bullmq 3.4.4's Worker emits, and what it passes to listeners.
EVENTS = {
    "active": "(job, previous_state)",
    "completed": "(job, result)",
    "failed": "(job, error)",
    "error": "(error) or (error, job)",
    "stalled": "(job_id)",
    "lockRenewalFailed": "(job_ids)",
    "paused": "()",
    "resumed": "()",
    "closed": "()",
}

__all__ = ["EVENTS", "HANDLERS", "LISTENERS", "CpuJob", "Job", "UnrecoverableError", "handler", "listener", "lookup"]


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
        if not inspect.iscoroutinefunction(function):
            raise TypeError(f"handler for {name!r} must be an async def function")
        HANDLERS[name] = function
        return function

    return register


def listener(event: str) -> Callable[[Listener], Listener]:
    """Register a plain ``def`` function to be called on a worker ``event``.

    Listeners must be quick and must not block: they run inside the worker's
    loop. Whatever they raise is logged and ignored.
    """

    def register(function: Listener) -> Listener:
        if event not in EVENTS:
            raise ValueError(f"unknown worker event {event!r}; bullmq emits: {', '.join(EVENTS)}")
        if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
            raise TypeError(
                f"listener {function.__qualname__} for {event!r} is async def, but bullmq calls listeners "
                "synchronously and never awaits them, so its body would never run. Make it a plain def "
                "(start async work with asyncio.get_running_loop().create_task(...) if you must)"
            )
        LISTENERS.setdefault(event, []).append(function)
        return function

    return register


def lookup(name: str) -> Handler:
    """The handler for ``name``; an unknown name fails its job without retries."""
    try:
        return HANDLERS[name]
    except KeyError:
        known = ", ".join(sorted(HANDLERS)) or "none"
        raise UnrecoverableError(f"no handler for job name {name!r} (known: {known})") from None
