"""Builds the bullmq Worker: job router, safe listeners and retention.

bullmq runs listeners synchronously inside its loop: a raising ``active``
listener strands the job, a raising ``error`` listener silently ends the loop,
and ``async def`` listeners are never awaited. So every listener here is a
plain function wrapped by :func:`safe`.
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis
from bullmq import Job, Worker

from .connections import check_client, worker_connection
from .registry import lookup
from .settings import SERVICE_NAME, Settings

log = logging.getLogger(__name__)


def worker_options(settings: Settings, connection: redis.Redis) -> dict[str, Any]:
    return {
        "connection": connection,
        "prefix": settings.queue_prefix,
        "concurrency": settings.concurrency,
        "autorun": False,
        "name": f"{SERVICE_NAME}:{settings.instance}",
        "lockDuration": settings.lock_duration_ms,
        "stalledInterval": settings.stalled_interval_ms,
        # Applied to jobs that do not carry their own retention, e.g. jobs
        # added by another service's producer.
        "removeOnComplete": {"count": settings.keep_completed_count, "age": settings.keep_completed_age},
        "removeOnFail": {"count": settings.keep_failed_count},
    }


async def route(job: Job, token: str) -> Any:
    """Hand ``job`` to the handler registered under its name."""
    return await lookup(job.name)(job)


def load_handlers(settings: Settings) -> None:
    """Import the modules whose ``@handler`` functions the worker serves."""
    for module in settings.handler_modules:
        importlib.import_module(module)


def build_worker(settings: Settings, *, connection: redis.Redis | None = None) -> Worker:
    """A Worker on the settings' queue; call ``run()`` to start it."""
    load_handlers(settings)
    client = check_client(connection, "worker", settings) if connection is not None else worker_connection(settings)
    worker = Worker(settings.queue_name, route, worker_options(settings, client))
    attach_listeners(worker)
    return worker


def safe(listener: Callable[..., None]) -> Callable[..., None]:
    """Wrap a listener so nothing it raises can reach bullmq's loop."""

    @functools.wraps(listener)
    def guarded(*args: Any) -> None:
        try:
            listener(*args)
        except Exception:
            log.exception("event listener %s raised; ignored", listener.__name__)

    return guarded


def attach_listeners(worker: Worker) -> None:
    started: dict[str, float] = {}

    def on_active(job: Job, _previous: str) -> None:
        started[job.id] = time.monotonic()

    def on_completed(job: Job, _result: Any) -> None:
        began = started.pop(job.id, None)
        if worker.forceClosing:
            # bullmq emits "completed" even for jobs cut off by a forced close.
            return
        duration = round(time.monotonic() - began, 4) if began is not None else None
        log.info("job completed", extra=_job_fields(job, duration=duration))

    def on_failed(job: Job, error: BaseException) -> None:
        began = started.pop(job.id, None) if job is not None else None
        duration = round(time.monotonic() - began, 4) if began is not None else None
        fields = _job_fields(job, duration=duration) if job is not None else {}
        log.warning("job failed: %s", _reason(error), extra=fields)

    def on_error(error: BaseException, job: Job | None = None) -> None:
        fields = _job_fields(job) if job is not None else {}
        log.error("worker error: %s", _reason(error), extra={**fields, "event": "worker_error"})

    def on_stalled(job_id: str) -> None:
        log.warning("job stalled; moved back to wait", extra={"job_id": job_id, "event": "job_stalled"})

    for event, listener in (
        ("active", on_active),
        ("completed", on_completed),
        ("failed", on_failed),
        ("error", on_error),
        ("stalled", on_stalled),
    ):
        worker.on(event, safe(listener))


def _job_fields(job: Job, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "job_name": job.name,
        "attempt": job.attemptsMade + 1,
        **{key: value for key, value in extra.items() if value is not None},
    }


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
