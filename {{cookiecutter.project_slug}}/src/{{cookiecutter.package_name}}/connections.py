"""The two Redis connection factories the production guide asks for.

Producers fail fast: with Redis down, adding a job raises within about a
second instead of blocking (bullmq's own client retries for about 350 s).
Workers wait for ever: they retry with the guide's backoff,
``max(min(exp(n), 20000), 1000)`` ms, and never raise to the application.

Both use ``decode_responses=True`` (bullmq requires it), TCP keep-alive, a
client name that says which service and role a connection belongs to, and
the credentials and TLS settings of :class:`Settings`. The worker's socket
timeout is above bullmq's blocking ``BZPOPMIN`` (up to 10 s): redis-py's
default of 5 s makes an idle worker reconnect constantly and pick jobs up late.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import AbstractBackoff, NoBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from . import speed
from .settings import SERVICE_NAME, Settings

log = logging.getLogger(__name__)

FOREVER = -1
# bullmq blocks in BZPOPMIN for at most this long; a worker socket timeout must exceed it.
BULLMQ_MAX_BLOCK = 10.0
WORKER_SOCKET_TIMEOUT = 30.0
WORKER_CONNECT_TIMEOUT = 5.0
# A producer must fail within about a second when nothing listens on the port.
PRODUCER_CONNECT_TIMEOUT = 1.0
RETRYABLE = (ConnectionError, TimeoutError, BusyLoadingError)
# A failure that the immediate reconnect fixes is a stale socket (the first use
# of a pooled connection after a Redis restart), not an outage: only the
# second failure in a row of one call is reported.
OUTAGE_AFTER_FAILURES = 2


class GuideBackoff(AbstractBackoff):
    """BullMQ's retryStrategy, ``max(min(exp(n), 20000), 1000)`` milliseconds.

    About 1 s for the first seven failures, then 3 s, 8 s and 20 s from the tenth on.
    """

    def compute(self, failures: int) -> float:
        # exp(10) ms is past the cap already; clamping also keeps exp() from
        # overflowing after ~700 failures (hours of outage at 20 s each).
        return max(min(math.exp(min(failures, 10)), 20_000), 1_000) / 1000


class Outage:
    """Logs a Redis outage once on the way down and once on recovery.

    One instance per process, shared by every connection, so an outage seen by
    ten connections is still one pair of log lines.
    """

    def __init__(self) -> None:
        self.down = False
        self.since = 0.0
        self.count = 0

    def failed(self, role: str, error: Exception, failures: int, first_failure: float) -> None:
        if self.down or failures < OUTAGE_AFTER_FAILURES:
            return
        self.down, self.since = True, first_failure
        self.count += 1
        log.warning(
            "redis unreachable, retrying with backoff (1 s to 20 s) until it is back",
            extra={"event": "redis_down", "role": role, "error": f"{type(error).__name__}: {error}"},
        )

    def recovered(self, role: str) -> None:
        if self.down:
            self.down = False
            seconds = round(time.monotonic() - self.since, 1)
            log.warning(
                "redis reachable again after %ss",
                seconds,
                extra={"event": "redis_up", "role": role, "outage_seconds": seconds},
            )


OUTAGE = Outage()


class ReportingRetry(Retry):
    """redis-py's Retry, telling :data:`OUTAGE` when calls keep failing and when one works again.

    redis-py deep-copies the Retry into every connection, and wraps both the
    connect (with its handshake) and each command in ``call_with_retry``: the
    state therefore lives in the module-level :data:`OUTAGE`, not on the instance.
    """

    def __init__(self, backoff: AbstractBackoff, retries: int, role: str) -> None:
        super().__init__(backoff, retries, RETRYABLE)
        self.role = role

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[Any]],
        fail: Callable[..., Awaitable[Any]],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> Any:
        first_failure = 0.0

        async def failing(error: Exception, failures: int) -> Any:
            nonlocal first_failure
            first_failure = first_failure or time.monotonic()
            OUTAGE.failed(self.role, error, failures, first_failure)
            return await (fail(error, failures) if with_failure_count else fail(error))

        result = await super().call_with_retry(do, failing, is_retryable=is_retryable, with_failure_count=True)
        OUTAGE.recovered(self.role)
        return result


def worker_connection(settings: Settings, *, retry: Retry | None = None) -> redis.Redis:
    """A client for a Worker: retries for ever, never raises to the service.

    Pass ``retry`` to change the policy; one that gives up logs a warning,
    because a worker that stops retrying stops working until restarted. A
    plain ``Retry`` also means outages are no longer logged: use
    :class:`ReportingRetry` to keep that.
    """
    if retry is None:
        retry = ReportingRetry(GuideBackoff(), FOREVER, role="worker")
    else:
        _vet_worker_retry(retry)
    return _client(
        settings,
        role="worker",
        retry=retry,
        socket_timeout=WORKER_SOCKET_TIMEOUT,
        socket_connect_timeout=WORKER_CONNECT_TIMEOUT,
    )


def producer_connection(settings: Settings, *, retry: Retry | None = None) -> redis.Redis:
    """A client for producers: no retries and a short timeout, so callers fail fast.

    A closed pooled socket is still replaced before use (redis-py checks it
    when the pool hands it out), so no retry is needed for that. Pass
    ``retry`` to change the policy; one that may block the caller for longer
    than ``PRODUCER_TIMEOUT`` logs a warning.
    """
    if retry is None:
        retry = Retry(NoBackoff(), 0)
    else:
        _vet_producer_retry(retry, settings.producer_timeout)
    return _client(
        settings,
        role="producer",
        retry=retry,
        socket_timeout=settings.producer_timeout,
        socket_connect_timeout=min(settings.producer_timeout, PRODUCER_CONNECT_TIMEOUT),
    )


def check_client(client: redis.Redis, role: str, settings: Settings) -> redis.Redis:
    """Vet a client built elsewhere for ``role`` ("worker" or "producer"); warn where it breaks the rules."""
    options, retry = _options_and_retry(client)
    if not options.get("decode_responses"):
        raise ValueError(f"the {role} client must be created with decode_responses=True (bullmq needs str replies)")
    timeout = options.get("socket_timeout")
    if role == "worker":
        _vet_worker_retry(retry)
        if timeout is not None and timeout <= BULLMQ_MAX_BLOCK:
            _warn(
                f"worker client socket_timeout={timeout}s is not above bullmq's {BULLMQ_MAX_BLOCK:g}s blocking "
                "wait; an idle worker will reconnect constantly and pick up jobs late"
            )
    else:
        _vet_producer_retry(retry, settings.producer_timeout)
        if timeout is None:
            _warn("producer client has no socket_timeout; enqueue blocks for ever on a Redis that stops answering")
    return client


def _options_and_retry(client: redis.Redis | RedisCluster) -> tuple[dict, Retry]:
    """Connection options and retry policy of a plain, Sentinel-made or Cluster client."""
    if isinstance(client, RedisCluster):
        return client.nodes_manager.connection_kwargs, getattr(client, "retry", None) or Retry(NoBackoff(), 0)
    return client.connection_pool.connection_kwargs, client.get_retry() or Retry(NoBackoff(), 0)


def _vet_worker_retry(retry: Retry) -> None:
    if retry.get_retries() >= 0:
        _warn(
            f"worker connection retry gives up after {retry.get_retries()} retries; workers must retry "
            "for ever (the guide's maxRetriesPerRequest: null) or bullmq stops taking jobs during an outage"
        )


def _vet_producer_retry(retry: Retry, limit: float) -> None:
    if retry.get_retries() < 0:
        _warn(
            "producer connection retries for ever; enqueue will block its caller while redis is down "
            "instead of failing fast (the guide's enableOfflineQueue: false)"
        )
        return
    waits = _backoff_total(retry)
    if waits > limit:
        _warn(
            f"producer connection retry waits about {waits:.0f}s in total before it gives up; enqueue "
            f"will block its caller that long while redis is down (PRODUCER_TIMEOUT is {limit:g}s)"
        )


def _backoff_total(retry: Retry) -> float:
    """Seconds a retry policy sleeps before it gives up (an estimate for jittered backoffs)."""
    backoff = getattr(retry, "_backoff", None)  # redis-py keeps it private
    if backoff is None:
        return 0.0
    backoff.reset()
    return sum(backoff.compute(failures) for failures in range(1, min(retry.get_retries(), 1000) + 1))


def _warn(message: str) -> None:
    log.warning(message, extra={"event": "connection_override"})


def _client(settings: Settings, *, role: str, retry: Retry, **timeouts: float) -> redis.Redis:
    options: dict[str, Any] = {
        "decode_responses": True,
        "retry": retry,
        "socket_keepalive": True,
        "client_name": f"{SERVICE_NAME}:{role}:{settings.instance}",
        **timeouts,
        **speed.client_options(settings),  # performance: HIREDIS=false
    }
    # Credentials written into REDIS_URL win over these (redis-py's from_url);
    # Settings refuses a password given both ways.
    if settings.redis_username:
        options["username"] = settings.redis_username
    if settings.redis_password:
        options["password"] = settings.redis_password
    if settings.redis_tls_ca_file:
        options["ssl_ca_certs"] = settings.redis_tls_ca_file
    return redis.Redis.from_url(settings.redis_url, **options)
