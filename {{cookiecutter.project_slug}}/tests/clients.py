"""Acting as the service's clients in the connection tests: add jobs, read JSON logs, freeze Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import redis

import conftest
import support

# Plain imports above keep the import order the same whatever the package is called.
from {{ cookiecutter.package_name }}.producer import EnqueueError, Producer
from {{ cookiecutter.package_name }}.settings import Settings

__all__ = ["EnqueueError", "Producer", "Settings"]

QUEUE = conftest.QUEUE

# A producer that does not fail fast blocks for minutes; fail the test instead of hanging it.
HANG = 20.0


def settings_for(redis_url: str, **env: str) -> Settings:
    return Settings.from_env(support.service_env(redis_url, QUEUE_NAME=QUEUE, **env))


def enqueue(redis_url: str, name: str = "echo", data: dict | None = None, **env: str) -> str:
    """Add one job through the Producer API, in this process."""

    async def add() -> str:
        async with Producer(settings_for(redis_url, **env)) as producer:
            return await asyncio.wait_for(producer.enqueue(name, data or {}), HANG)

    return asyncio.run(add())


def run_cli(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m <package> ARGS`` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", support.PACKAGE, *args],
        env=support.service_env(redis_url, QUEUE_NAME=QUEUE, **env),
        cwd=support.PROJECT,
        capture_output=True,
        text=True,
        timeout=HANG + 10,
        check=False,
    )


def job(client: redis.Redis, job_id: str) -> dict[str, str]:
    return client.hgetall(f"bull:{QUEUE}:{job_id}")


def wait_completed(client: redis.Redis, job_id: str, timeout: float) -> dict[str, str]:
    """Wait until ``job_id`` is in the completed set; its hash."""
    support.wait_until(
        lambda: client.zscore(f"bull:{QUEUE}:completed", job_id) is not None, timeout, f"job {job_id} completed"
    )
    return job(client, job_id)


@contextmanager
def paused(server: support.RedisServer) -> Iterator[None]:
    """SIGSTOP the server: it still accepts TCP connections (the kernel does) but never answers."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def connections_received(client: redis.Redis) -> int:
    """How many connections the server has accepted since it started."""
    return int(client.info("stats")["total_connections_received"])
