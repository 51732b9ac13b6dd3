"""Every worker listener is attached here: the service's own, the team's, and extra ones handed in.

The service's own listeners log errors, failures, stalls and lost locks (the
production guide's "log errors"); the team's are its ``@listener`` functions;
extra ones come from the caller (observe.py's metrics).

bullmq runs listeners synchronously inside its loop: a raising ``active``
listener strands the job, a raising ``error`` listener silently ends the loop,
and ``async def`` listeners are never awaited. So every listener is a plain
function wrapped by :func:`safe`.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bullmq import Job, Worker

from .registry import LISTENERS, Listener

log = logging.getLogger(__name__)


def safe(listener: Listener) -> Listener:
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


def attach(worker: Worker, extra: Mapping[str, Iterable[Listener]] | None = None) -> None:
    """The service's listeners, the team's ``@listener`` functions, then ``extra``; each wrapped by :func:`safe`."""
    for table in (_own(worker), LISTENERS, extra or {}):
        for event, listeners in table.items():
            for listener in listeners:
                worker.on(event, safe(listener))


def _own(worker: Worker) -> dict[str, list[Listener]]:
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

    return {
        "completed": [on_completed],
        "failed": [on_failed],
        "error": [on_error],
        "stalled": [on_stalled],
        "lockRenewalFailed": [on_lock_renewal_failed],
    }


def _job_fields(job: Job) -> dict[str, Any]:
    # No attempt number: by the time bullmq emits, it has already counted the attempt.
    return {"job_id": job.id, "job_name": job.name}


def _reason(error: BaseException | str) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
