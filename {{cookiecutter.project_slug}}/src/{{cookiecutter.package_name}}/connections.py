"""The two Redis connection factories the production guide asks for.

Producers fail fast: with Redis down, adding a job raises within about a
second instead of blocking (bullmq's own client retries for about 350 s).
Workers wait for ever: they retry with the guide's backoff,
``max(min(exp(n), 20000), 1000)`` ms, and never raise to the application.

Both use ``decode_responses=True`` (bullmq requires it) and a socket timeout
above bullmq's blocking ``BZPOPMIN`` (up to 10 s): redis-py's default of 5 s
makes an idle worker reconnect constantly and pick jobs up late.
"""

from __future__ import annotations

import logging
import math

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import AbstractBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from . import speed
from .settings import SERVICE_NAME, Settings

log = logging.getLogger(__name__)

FOREVER = -1
# Above bullmq's longest BZPOPMIN block (10 s), so a healthy idle connection
# never times out.
WORKER_SOCKET_TIMEOUT = 30.0
# bullmq blocks for at most this long; a worker socket timeout must exceed it.
BULLMQ_MAX_BLOCK = 10.0
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError)


class GuideBackoff(AbstractBackoff):
    """BullMQ's retryStrategy: exponential, at least 1 s, at most 20 s."""

    def compute(self, failures: int) -> float:
        return max(min(math.exp(failures) * 1000, 20_000), 1_000) / 1000


class Outage:
    """Logs a Redis outage once on the way down and once on recovery.

    One instance per process, shared by every connection, so an outage seen by
    ten connections is still one pair of log lines.
    """

    def __init__(self) -> None:
        self.down = False
        self.count = 0

    def failed(self, role: str, error: Exception) -> None:
        if not self.down:
            self.down = True
            self.count += 1
            log.warning(
                "redis unreachable, retrying with backoff (1 s to 20 s)",
                extra={"event": "redis_down", "role": role, "error": str(error)},
            )

    def recovered(self, role: str) -> None:
        if self.down:
            self.down = False
            log.warning("redis reachable again", extra={"event": "redis_up", "role": role})


OUTAGE = Outage()


class ReportingRetry(Retry):
    """redis-py's Retry, telling :data:`OUTAGE` when a command fails and recovers."""

    def __init__(self, backoff: AbstractBackoff, retries: int, role: str) -> None:
        super().__init__(backoff, retries, RETRYABLE)
        self.role = role

    async def call_with_retry(self, do, fail, *args, **kwargs):
        async def failing(error, *rest):
            OUTAGE.failed(self.role, error)
            return await fail(error, *rest)

        result = await super().call_with_retry(do, failing, *args, **kwargs)
        if OUTAGE.down:
            OUTAGE.recovered(self.role)
        return result


def worker_connection(settings: Settings, *, retry: Retry | None = None) -> redis.Redis:
    """A client for a Worker: retries for ever, never raises to the service.

    Pass ``retry`` to change the policy; one that gives up logs a warning,
    because a worker that stops retrying stops working until restarted.
    """
    if retry is None:
        retry = ReportingRetry(GuideBackoff(), FOREVER, role="worker")
    elif retry.get_retries() >= 0:
        log.warning(
            "worker connection retry gives up after %d attempts; workers should retry "
            "for ever (the guide's maxRetriesPerRequest: null) or they stop during an outage",
            retry.get_retries(),
        )
    return _client(settings, role="worker", retry=retry, socket_timeout=WORKER_SOCKET_TIMEOUT)


def producer_connection(settings: Settings, *, retry: Retry | None = None) -> redis.Redis:
    """A client for producers: no retries and short timeouts, so callers fail fast.

    Pass ``retry`` to change the policy; one that retries for ever logs a
    warning, because ``enqueue`` would then block its caller during an outage.
    """
    if retry is None:
        retry = ReportingRetry(GuideBackoff(), 0, role="producer")
    elif retry.get_retries() < 0:
        log.warning(
            "producer connection retries for ever; enqueue will block its caller while "
            "redis is down instead of failing fast (the guide's enableOfflineQueue: false)"
        )
    return _client(
        settings,
        role="producer",
        retry=retry,
        socket_timeout=settings.producer_timeout,
        socket_connect_timeout=min(settings.producer_timeout, 1.0),
    )


def check_client(client: redis.Redis, role: str) -> redis.Redis:
    """Vet a client built elsewhere; warn where it breaks the guide's rules."""
    kwargs = client.connection_pool.connection_kwargs
    if not kwargs.get("decode_responses"):
        raise ValueError(f"{role} client must be created with decode_responses=True (bullmq needs str replies)")
    timeout = kwargs.get("socket_timeout")
    if role == "worker" and timeout is not None and timeout <= BULLMQ_MAX_BLOCK:
        log.warning(
            "worker client socket_timeout=%ss is not above bullmq's %ss blocking wait; "
            "idle workers will reconnect constantly and pick up jobs late",
            timeout,
            BULLMQ_MAX_BLOCK,
        )
    retries = client.get_retry().get_retries() if client.get_retry() else 0
    if role == "worker" and retries >= 0:
        log.warning("worker client gives up after %d retries; workers should retry for ever", retries)
    if role == "producer" and retries < 0:
        log.warning("producer client retries for ever; enqueue will block during outages")
    return client


def _client(settings: Settings, *, role: str, retry: Retry, **timeouts: float) -> redis.Redis:
    options = {
        "decode_responses": True,
        "retry": retry,
        "socket_keepalive": True,
        "client_name": f"{SERVICE_NAME}:{role}:{settings.instance}",
        "socket_connect_timeout": 5.0,
        **timeouts,
        **speed.client_options(settings),  # performance: HIREDIS=false
    }
    if settings.redis_username:
        options["username"] = settings.redis_username
    if settings.redis_password:
        options["password"] = settings.redis_password
    return redis.Redis.from_url(settings.redis_url, **options)
