"""Automatic removal of finished jobs: how many completed and failed jobs Redis keeps.

Without it every finished job stays in Redis for ever and memory only grows
(the production guide's "auto-job removal"). Completed jobs are kept up to
``KEEP_COMPLETED_COUNT`` and for ``KEEP_COMPLETED_AGE`` seconds, failed jobs
up to ``KEEP_FAILED_COUNT``, for inspection and ``retry-failed``.

The same bounds go two ways: the producer writes them into every job it adds,
and the worker applies them to jobs that carry none of their own (added by
another service, a Node producer or a script).
"""

from __future__ import annotations

from typing import Any

from .settings import Settings


def defaults(settings: Settings) -> dict[str, Any]:
    """bullmq's ``removeOnComplete`` and ``removeOnFail`` options, from the settings."""
    return {
        "removeOnComplete": {"count": settings.keep_completed_count, "age": settings.keep_completed_age},
        "removeOnFail": {"count": settings.keep_failed_count},
    }
