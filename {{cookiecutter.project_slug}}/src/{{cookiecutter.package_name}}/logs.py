"""Logging to stdout: one JSON object per line in production, readable lines locally.

Every record goes through one handler on the root logger: the service's own,
bullmq's and redis-py's ``logging`` records, and ``warnings`` (captured).
Fields passed with ``extra=`` become JSON keys.

Inside a job, every line also carries the job's ``queue``, ``job_id``,
``job_name``, ``attempt`` and ``duration`` (seconds since the attempt
started), whoever logs it: :func:`bind_job` puts the job in a context variable
and the handler's filter copies it onto each record. bullmq runs each job in
its own asyncio task, so the binding lasts exactly as long as the job and the
worker's own completed/failed lines (emitted in that task) carry it too.
Handlers just use ``logging.getLogger(__name__)``.

Per job this costs one small tuple and one context-variable write; no logger
or adapter is built per job.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .settings import Settings

# Attributes every LogRecord has; anything else came from ``extra=`` or the job binding.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JobBinding(NamedTuple):
    queue: str
    job_id: str
    job_name: str
    attempt: int
    started: float  # time.monotonic() when the attempt started


_FIELDS = ("queue", "job_id", "job_name", "attempt")
_current: ContextVar[JobBinding | None] = ContextVar("current_job", default=None)


def bind_job(job: Any) -> None:
    """Bind ``job`` to every log line of the current task; call it when the job starts.

    It must run in the job's own task (bullmq's processor call), not in a task
    spawned from it, or the worker's completed/failed lines will not see it.
    """
    queue = getattr(job.queue, "name", "")
    _current.set(JobBinding(queue, str(job.id), job.name, job.attemptsMade + 1, time.monotonic()))


def current_job() -> JobBinding | None:
    """The job bound to the current task, if any (metrics read its start time)."""
    return _current.get()


class JobFields(logging.Filter):
    """Copies the bound job onto each record; fields passed with ``extra=`` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        binding = _current.get()
        if binding is not None:
            fields = record.__dict__
            for key, value in zip(_FIELDS, binding, strict=False):
                fields.setdefault(key, value)
            fields.setdefault("duration", round(time.monotonic() - binding.started, 4))
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        return f"{line} {extras}" if extras else line


def configure(settings: Settings, filters: Iterable[logging.Filter] = ()) -> None:
    """One handler on the root logger for every record; ``filters`` (log redaction) run after the job fields."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else ConsoleFormatter())
    # On the handler, not a logger: logger filters skip records propagated from
    # other loggers (bullmq, redis, py.warnings), handler filters see them all.
    handler.addFilter(JobFields())
    # The logging HOWTO's "Optimization" switches: no line of these reaches the
    # output, and collecting them (a stack walk for the caller, above all) is
    # a good part of each record's cost.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for extra in filters:
        handler.addFilter(extra)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("bullmq", "redis", "py.warnings"):
        # Libraries' records reach the root handler, whatever they set up themselves.
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    logging.captureWarnings(True)
