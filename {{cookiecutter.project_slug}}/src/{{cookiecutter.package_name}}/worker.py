"""Builds the bullmq Worker: the job router and defensive reading of what bullmq parses.

Handler modules must be imported before a worker is built (lifecycle.py
loads them once at start); listeners are attached by listeners.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import redis.asyncio as redis
from bullmq import Job, Worker

from . import {% if cookiecutter.use_encryption %}encryption, {% endif %}listeners, retention, retries
from .connections import check_client, worker_connection
from .logs import bind_job
from .registry import Listener, lookup
from .settings import SERVICE_NAME, Settings

log = logging.getLogger(__name__)

Processor = Callable[[Job, str], Awaitable[Any]]

# The job-hash fields bullmq's Job.fromJSON parses as JSON, and a harmless
# stand-in for each when a producer wrote something else.
_JSON_FIELDS = {"data": "null", "opts": "{}", "progress": "0", "stacktrace": "[]", "parent": "null"}


class HandlerCancelledError(RuntimeError):
    """A handler raised CancelledError although nobody cancelled it."""


class ServiceWorker(Worker):
    """bullmq's Worker, taking and reading jobs defensively.

    bullmq 3.4.4 decodes a job after moving it to active; a field that is not
    valid JSON raises there, so the job is never processed nor failed: it
    stalls, comes back, and raises again, for ever. Here such a job fails at
    once, without retries, with a reason that names the field.
    """

    def __init__(self, name: str, processor: Processor, opts: dict[str, Any], *, backoff_jitter: float) -> None:
        super().__init__(name, processor, opts)
        self.backoff_jitter = backoff_jitter

    async def moveToActive(self, token: str) -> Job | None:  # noqa: N802  (bullmq's method name)
        # close() cancels the blocking wait for a job, but a wait that has just
        # returned still goes on to take a job, which a graceful close then
        # leaves behind in the active list. A closing worker takes nothing.
        if self.closing:
            return None
        return await super().moveToActive(token)

    async def nextJobFromJobData(  # noqa: N802  (bullmq's method name)
        self, job_data=None, job_id=None, limit_until=0, delay_until=0, token=None
    ) -> Job | None:
        try:
            job = await super().nextJobFromJobData(job_data, job_id, limit_until, delay_until, token)
        except (ValueError, TypeError) as error:
            if not job_data:
                raise
            job = await super().nextJobFromJobData(
                unreadable_stand_in(job_data, job_id, error), job_id, limit_until, delay_until, token
            )
        if job is not None:
            job.opts["backoff"] = retries.with_jitter(job.opts.get("backoff"), self.backoff_jitter)
        return job


def unreadable_stand_in(raw: dict[str, str], job_id: str | None, error: Exception) -> dict[str, str]:
    """A job hash bullmq can read, carrying a deferred failure that says what was wrong."""
    bad = {}
    for field, stand_in in _JSON_FIELDS.items():
        try:
            if field in raw:
                json.loads(raw[field])
        except (TypeError, ValueError) as problem:
            bad[field] = (stand_in, str(problem))
    if not bad:  # readable JSON, but options bullmq refuses (e.g. conflicting parent options)
        bad["opts"] = ("{}", str(error))
    reason = "; ".join(f"field {field!r} is not valid job JSON ({problem})" for field, (_, problem) in bad.items())
    log.error(
        "job %s cannot be read, failing it without retries: %s",
        job_id,
        reason,
        extra={"event": "job_unreadable", "job_id": job_id},
    )
    return {**raw, **{field: stand_in for field, (stand_in, _) in bad.items()}, "defa": f"unreadable job: {reason}"}


def worker_options(settings: Settings, connection: redis.Redis) -> dict[str, Any]:
    return {
        "connection": connection,
        "prefix": settings.queue_prefix,
        "concurrency": settings.concurrency,
        "autorun": False,
        "name": f"{SERVICE_NAME}:{settings.instance}",
        "lockDuration": settings.lock_duration_ms,
        "stalledInterval": settings.stalled_interval_ms,
        # For jobs that do not carry their own retention, e.g. added by another service's producer.
        **retention.defaults(settings),
        # bullmq looks custom backoff strategies up here (job.queue is the worker).
        "settings": {"backoffStrategy": retries.backoff_strategy},
    }


def router(settings: Settings) -> Processor:
    """bullmq's processor: hands each job to the handler registered under its name."""
{%- if cookiecutter.use_encryption %}
    keys = encryption.keyring(settings)  # no keys, no worker: never a clear-text fallback
{%- endif %}

    async def route(job: Job, token: str) -> Any:
        bind_job(job)  # logs.py: job fields on every log line of this job (keep first)
        handle = lookup(job.name)
        try:
{%- if cookiecutter.use_encryption %}
            # Sensitive fields are opened for the handler alone; its errors come back scrubbed.
            return await encryption.run(job, handle, keys)
{%- else %}
            return await handle(job)
{%- endif %}
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # a forced shutdown cancelled this job: let bullmq see it
            # A CancelledError from an awaited task that someone else cancelled.
            # Let through, it would end bullmq's loop without a word (the job
            # stranded, the process alive and idle): fail the attempt instead.
            raise HandlerCancelledError(
                f"handler for {job.name!r} raised CancelledError without being cancelled "
                "(it awaited a task or future that was cancelled)"
            ) from None

    return route


def build_worker(
    settings: Settings,
    *,
    connection: redis.Redis | None = None,
    extra_listeners: Mapping[str, Iterable[Listener]] | None = None,
) -> Worker:
    """A Worker on the settings' queue with every listener attached; call ``run()`` to start it.

    ``connection``: your own client instead of :func:`worker_connection`; vetted, with warnings.
    ``extra_listeners``: more listeners by event name, attached after the service's and the team's.
    """
    client = check_client(connection, "worker", settings) if connection is not None else worker_connection(settings)
    options = worker_options(settings, client)
    worker = ServiceWorker(settings.queue_name, router(settings), options, backoff_jitter=settings.backoff_jitter)
    listeners.attach(worker, extra_listeners)
    return worker
