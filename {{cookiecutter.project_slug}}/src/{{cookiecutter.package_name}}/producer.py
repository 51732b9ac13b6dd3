"""Adding jobs: the service's default job options on a fail-fast connection.

Usage::

    async with Producer(Settings.from_env()) as producer:
        job_id = await producer.enqueue("echo", {"hello": "world"})
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as redis
from bullmq import Queue
from redis.exceptions import RedisError, TimeoutError

from . import retention{% if cookiecutter.use_encryption %}, sensitive  # noqa: F401  (sensitive: the team's declare() calls){% endif %}
from .connections import check_client, producer_connection
{%- if cookiecutter.use_encryption %}
from .encryption import seal
{%- endif %}
from .settings import Settings

log = logging.getLogger(__name__)


class EnqueueError(RuntimeError):
    """A job could not be added; nothing was written."""


def default_job_options(settings: Settings) -> dict[str, Any]:
    """Retention and retries every job gets unless the caller overrides them."""
    return {
        "attempts": settings.job_attempts,
        "backoff": {"type": "exponential", "delay": settings.backoff_delay_ms},
        **retention.defaults(settings),
    }


class Producer:
    def __init__(self, settings: Settings, *, connection: redis.Redis | None = None) -> None:
        """``connection``: your own client instead of :func:`producer_connection`; vetted, with warnings."""
        self.settings = settings
        if connection is not None:
            client = check_client(connection, "producer", settings)
        else:
            client = producer_connection(settings)
        self.queue = Queue(
            settings.queue_name,
            {
                "connection": client,
                "prefix": settings.queue_prefix,
                "defaultJobOptions": default_job_options(settings),
            },
        )

    async def enqueue(self, name: str, data: dict[str, Any], **options: Any) -> str:
        """Add one job and return its id; raises :class:`EnqueueError` at once if Redis is down."""
        [job] = await self._add([(name, data, options)])
        return job

    async def enqueue_bulk(self, jobs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
        """Add ``(name, data, options)`` jobs in one round trip, all or none; returns their ids."""
        return await self._add(jobs)

    async def _add(self, jobs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
        batch = []
        for name, data, options in jobs:
            options = dict(options)
{%- if cookiecutter.use_encryption %}
            # Sensitive fields (declared in sensitive.py, plus sensitive=[...] for this job) are
            # encrypted here, so they never reach Redis in clear text.
            data = seal(self.settings, name, data, options.pop("sensitive", ()))
{%- endif %}
            batch.append({"name": name, "data": data, "opts": options})
        try:
            if len(batch) == 1:
                added = [await self.queue.add(batch[0]["name"], batch[0]["data"], batch[0]["opts"])]
            else:
                added = await self.queue.addBulk(batch)
        except RedisError as error:
            names = ", ".join(sorted({job["name"] for job in batch}))
            what = f"job {batch[0]['name']!r}" if len(batch) == 1 else f"{len(batch)} jobs ({names})"
            hint = f" (no answer within PRODUCER_TIMEOUT={self.settings.producer_timeout:g}s)"
            raise EnqueueError(
                f"could not add {what} to queue {self.settings.queue_name!r} "
                f"at {self.settings.redis_location}: {type(error).__name__}: {error}"
                f"{hint if isinstance(error, TimeoutError) else ''}"
            ) from error
        return [str(job.id) for job in added]

    async def close(self) -> None:
        try:
            await self.queue.close()
        except RedisError as error:
            log.warning("closing the producer connection failed: %s", error)

    async def __aenter__(self) -> Producer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
