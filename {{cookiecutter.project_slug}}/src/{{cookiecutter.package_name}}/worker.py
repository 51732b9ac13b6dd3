"""Builds the bullmq Worker: job router, safe listeners, retention and retries.

bullmq runs listeners synchronously inside its loop: a raising ``active``
listener strands the job, a raising ``error`` listener silently ends the loop,
and ``async def`` listeners are never awaited. So every listener here, the
service's and the team's (``@listener``), is a plain function wrapped by
:func:`safe`.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis
from bullmq import Job, Worker

from . import {% if cookiecutter.use_encryption %}protect, {% endif %}retries
from .connections import check_client, worker_connection
from .logs import bind_job
from .registry import LISTENERS, lookup
from .settings import SERVICE_NAME, Settings

log = logging.getLogger(__name__)

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

    def __init__(self, name: str, processor: Callable, opts: dict[str, Any], *, backoff_jitter: float) -> None:
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
        # Applied to jobs that do not carry their own retention, e.g. jobs
        # added by another service's producer.
        "removeOnComplete": {"count": settings.keep_completed_count, "age": settings.keep_completed_age},
        "removeOnFail": {"count": settings.keep_failed_count},
        # bullmq looks custom backoff strategies up here (job.queue is the worker).
        "settings": {"backoffStrategy": retries.backoff_strategy},
    }


async def route(job: Job, token: str) -> Any:
    """Hand ``job`` to the handler registered under its name."""
    bind_job(job)  # logs.py: job fields on every log line of this job (keep first)
    handle = lookup(job.name)
    try:
{%- if cookiecutter.use_encryption %}
        # Sensitive fields are opened for the handler alone; its errors come back scrubbed.
        return await protect.run(job, handle)
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


def load_handlers(settings: Settings) -> None:
    """Import the modules whose ``@handler`` functions the worker serves."""
    for module in settings.handler_modules:
        importlib.import_module(module)


def build_worker(settings: Settings, *, connection: redis.Redis | None = None) -> Worker:
    """A Worker on the settings' queue; call ``run()`` to start it."""
    load_handlers(settings)
{%- if cookiecutter.use_encryption %}
    protect.install(settings)  # no keys, no worker: never a clear-text fallback
{%- endif %}
    client = check_client(connection, "worker", settings) if connection is not None else worker_connection(settings)
    options = worker_options(settings, client)
    worker = ServiceWorker(settings.queue_name, route, options, backoff_jitter=settings.backoff_jitter)
    attach_listeners(worker)
    return worker


def safe(listener: Callable[..., None]) -> Callable[..., None]:
    """Wrap a listener so nothing it raises can reach bullmq's loop."""

    @functools.wraps(listener)
    def guarded(*args: Any) -> None:
        try:
            result = listener(*args)
            if inspect.isawaitable(result):
                # bullmq never awaits what a listener returns; say so instead of dropping it.
                getattr(result, "close", lambda: None)()
                log.error("event listener %s returned an awaitable; bullmq never awaits it", listener.__name__)
        except Exception:
            log.exception("event listener %s raised; ignored", listener.__name__, extra={"event": "listener_raised"})

    return guarded


def attach_listeners(worker: Worker) -> None:
    """The service's own listeners, then the team's ``@listener`` functions, all wrapped by :func:`safe`."""
    # Inside a job, logs.bind_job already put queue, job id, name, attempt and
    # duration on every line; these fields only name jobs logged outside one.

    def on_completed(job: Job, _result: Any) -> None:
        if worker.forceClosing:
            # bullmq emits "completed" even for jobs cut off by a forced close.
            return
        log.info("job completed", extra=_job_fields(job))

    def on_failed(job: Job | None, error: BaseException) -> None:
        log.warning("job failed: %s", _reason(error), extra=_job_fields(job) if job is not None else {})

    def on_error(error: BaseException | str, job: Job | None = None) -> None:
        fields = _job_fields(job) if job is not None else {}
        log.error("worker error: %s", _reason(error), extra={**fields, "event": "worker_error"})

    def on_stalled(job_id: str) -> None:
        log.warning("job stalled; moved back to wait", extra={"job_id": job_id, "event": "job_stalled"})

    def on_lock_renewal_failed(job_ids: list[str]) -> None:
        log.warning(
            "could not renew job locks; another worker may run these jobs too",
            extra={"job_ids": job_ids, "event": "lock_renewal_failed"},
        )

    own = {
        "completed": on_completed,
        "failed": on_failed,
        "error": on_error,
        "stalled": on_stalled,
        "lockRenewalFailed": on_lock_renewal_failed,
    }
    for event, listener in own.items():
        worker.on(event, safe(listener))
    for event, listeners in LISTENERS.items():
        for listener in listeners:
            worker.on(event, safe(listener))


def _job_fields(job: Job) -> dict[str, Any]:
    # No attempt number: by the time bullmq emits, it has already counted the attempt.
    return {"job_id": job.id, "job_name": job.name}


def _reason(error: BaseException | str) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
