"""Checks that the Redis server is fit for BullMQ before any work starts.

bullmq for Python never runs its eviction-policy warning or version check at
start-up, so the service does it: any ``maxmemory-policy`` but ``noeviction``
lets Redis delete queue keys under memory pressure, which loses jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as redis

from .settings import Settings

log = logging.getLogger(__name__)

EXIT_UNFIT = 78  # EX_CONFIG from sysexits.h: a supervisor should not restart it in a loop
OLDEST_REDIS = (6, 2, 0)  # bullmq's recommended minimum
TESTED_REDIS = (7, 0, 0)  # the oldest server this service is tested against


@dataclass(frozen=True)
class Finding:
    fatal: bool
    setting: str
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


async def passes(settings: Settings, client: redis.Redis) -> bool:
    """Inspect the server through ``client``, log every finding, close the client; True when fit.

    The one entry point of the worker (with its retrying client: it waits for
    Redis) and of the ``preflight`` command (with a fail-fast client).
    """
    try:
        return report(await inspect(client, settings))
    finally:
        await client.aclose()


async def inspect(client: redis.Redis, settings: Settings) -> list[Finding]:
    """What is wrong with the server, worst first; empty when it is fit."""
    info = await client.info()
    findings = [
        *_eviction(info, settings),
        *_version(info),
        *_persistence(info),
    ]
    return sorted(findings, key=lambda finding: not finding.fatal)


def _eviction(info: dict, settings: Settings) -> list[Finding]:
    policy = info.get("maxmemory_policy", "unknown")
    if policy == "noeviction":
        return []
    message = (
        f"is {policy!r}; BullMQ needs 'noeviction' or Redis may delete queue keys and "
        "lose jobs. Fix: CONFIG SET maxmemory-policy noeviction (and in redis.conf)"
    )
    if settings.allow_eviction_policy:
        return [Finding(False, "maxmemory-policy", message + " [ALLOW_EVICTION_POLICY is set: running anyway]")]
    return [Finding(True, "maxmemory-policy", message + ", or set ALLOW_EVICTION_POLICY=true to run anyway")]


def _version(info: dict) -> list[Finding]:
    raw = str(info.get("redis_version", "0"))
    version = tuple(int(part) for part in raw.split(".")[:3] if part.isdigit())
    if version < OLDEST_REDIS:
        return [Finding(True, "redis_version", f"is {raw}; bullmq needs Redis 6.2 or newer")]
    if version < TESTED_REDIS:
        return [Finding(False, "redis_version", f"is {raw}; this service is tested on Redis 7.0 and newer")]
    return []


def _persistence(info: dict) -> list[Finding]:
    if str(info.get("aof_enabled", "0")) == "1":
        return []
    return [
        Finding(
            False,
            "appendonly",
            "is off; a Redis restart loses every job added since the last RDB snapshot. "
            "Fix: appendonly yes, appendfsync everysec (see redis.conf)",
        )
    ]


def report(findings: list[Finding]) -> bool:
    """Log each finding; True when the server is fit to work with."""
    for finding in findings:
        level = logging.ERROR if finding.fatal else logging.WARNING
        log.log(level, "preflight: %s", finding, extra={"event": "preflight", "setting": finding.setting})
    return not any(finding.fatal for finding in findings)
