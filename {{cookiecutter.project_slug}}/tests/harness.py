"""The test harness: Redis servers, service processes and their environment, jobs, the CLI, logs, waits.

Every test imports what it needs from here; conftest.py holds the fixtures.
Redis servers and service processes are the scripts' own
(scripts/localredis.py, scripts/localservice.py), so the benchmark and the
chaos drill start them exactly as the tests do. Nothing fakes Redis, and
every wait polls a condition until a deadline.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from bullmq import Queue
from localredis import ADMIN_USER, PROJECT, REDIS_CONF, SERVICE_USER, AclUsers, RedisServer, free_port, wait_until
from localservice import PACKAGE, {% if cookiecutter.use_encryption %}SESSION_KEY, {% endif %}ServiceProcess
from localservice import service_env as local_service_env

from {{ cookiecutter.package_name }}.__main__ import main as cli_main
from {{ cookiecutter.package_name }}.producer import EnqueueError, Producer
from {{ cookiecutter.package_name }}.settings import Settings

__all__ = [
    "ADMIN_USER",
    "PACKAGE",
    "PROJECT",
    "REDIS_CONF",
    "SERVICE_USER",
{%- if cookiecutter.use_encryption %}
    "SESSION_KEY",
{%- endif %}
    "AclUsers",
    "EnqueueError",
    "Producer",
    "RedisServer",
    "ServiceProcess",
    "Settings",
    "cli_main",
    "free_port",
    "wait_until",
]

QUEUE = "tests"
TESTS = Path(__file__).resolve().parent
# A producer that does not fail fast blocks for minutes; fail the test instead of hanging it.
HANG = 20.0


# ---------------------------------------------------------------- the service's environment


def service_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """Environment for a service process: the test's Redis and queue, the test handlers, every job kept."""
    defaults = {
        "QUEUE_NAME": QUEUE,
        "HANDLER_MODULES": f"{PACKAGE}.jobs,handlers_for_tests",
        # Keep finished jobs so tests can inspect them, whatever the template's
        # retention answers were; the retention tests set their own bounds.
        "KEEP_COMPLETED_COUNT": "10000",
        "KEEP_COMPLETED_AGE": "3600",
        "KEEP_FAILED_COUNT": "10000",
    }
    return local_service_env(redis_url, paths=[TESTS], **{**defaults, **overrides})


def settings_for(redis_url: str, **env: str) -> Settings:
    return Settings.from_env(service_env(redis_url, **env))


# ---------------------------------------------------------------- adding jobs


def enqueue(redis_url: str, name: str = "echo", data: dict | None = None, **env: str) -> str:
    """Add one job through the service's Producer, in this process."""
    return enqueue_bulk(redis_url, [(name, data or {}, {})], **env)[0]


def enqueue_bulk(redis_url: str, jobs: list[tuple[str, dict, dict]], **env: str) -> list[str]:
    """Add ``(name, data, options)`` jobs in one round trip through the service's Producer."""

    async def add() -> list[str]:
        async with Producer(settings_for(redis_url, **env)) as producer:
            return await asyncio.wait_for(producer.enqueue_bulk(jobs), HANG)

    return asyncio.run(add())


def on_queue(redis_url: str, action: Callable[[Queue], Awaitable[Any]]) -> Any:
    """Run ``action`` on a bare bullmq Queue of the test queue, with no default options: another service's."""

    async def run() -> Any:
        client = aredis.Redis.from_url(redis_url, decode_responses=True)
        queue = Queue(QUEUE, {"connection": client})
        try:
            return await action(queue)
        finally:
            await queue.close()
            await client.aclose()

    return asyncio.run(run())


def add_jobs(redis_url: str, jobs: list[tuple[str, dict, dict]]) -> list[str]:
    """Add ``(name, data, options)`` jobs with plain bullmq, as another service's producer would."""

    async def add(queue: Queue) -> list[str]:
        return [str((await queue.add(name, data, options)).id) for name, data, options in jobs]

    return on_queue(redis_url, add)


# ---------------------------------------------------------------- jobs in Redis


def key(name: str) -> str:
    """A Redis key of the test queue: ``key("completed")``, ``key(job_id)``."""
    return f"bull:{QUEUE}:{name}"


def job_hash(client: redis.Redis, job_id: str) -> dict[str, str]:
    return client.hgetall(key(job_id))


def finished(client: redis.Redis, job_id: str, state: str = "completed") -> bool:
    return client.zscore(key(state), job_id) is not None


def wait_completed(client: redis.Redis, job_id: str, timeout: float = 15, what: str = "") -> dict[str, str]:
    """Wait until ``job_id`` is in the completed set; its hash."""
    wait_until(lambda: finished(client, job_id), timeout, what or f"job {job_id} completed")
    return job_hash(client, job_id)


def wait_failed(client: redis.Redis, job_id: str, timeout: float = 15) -> dict[str, str]:
    """Wait until ``job_id`` is in the failed set; its hash."""
    wait_until(lambda: finished(client, job_id, "failed"), timeout, f"job {job_id} failed")
    return job_hash(client, job_id)


def connections_received(client: redis.Redis) -> int:
    """How many connections the server has accepted since it started."""
    return int(client.info("stats")["total_connections_received"])


# ---------------------------------------------------------------- the command line


def cli(redis_url: str, *args: str, stderr: Any = subprocess.PIPE, **env: str) -> subprocess.CompletedProcess:
    """``python -m <package> ARGS`` to the end, output captured (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        env=service_env(redis_url, **env),
        cwd=PROJECT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=HANG + 40,
        check=False,
    )


def cli_on_terminal(redis_url: str, *args: str, answer: str = "") -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, typing ``answer`` if it asks; returns (exit code, screen)."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, *args],
        env=service_env(redis_url),
        cwd=PROJECT,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    screen = b""
    answered = False
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            process.kill()
            raise AssertionError(f"no output for 30 s from {args}: {screen!r}")
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        if answer and not answered and b"[y/N]" in screen:
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    return process.wait(30), screen.decode(errors="replace")


def http_get(port: int, path: str, timeout: float = 5) -> tuple[int, str]:
    """Status and body of ``GET path`` on localhost; (0, reason) when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError as error:
        return 0, str(error)
    finally:
        connection.close()


# ---------------------------------------------------------------- JSON log records


def log_records(process: ServiceProcess | str) -> list[dict]:
    """The JSON log records a service process (or a log text) holds; other output lines are skipped."""
    log = process if isinstance(process, str) else process.log
    records = []
    for line in log.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
    return records


def events(process: ServiceProcess | str, event: str) -> list[dict]:
    """The JSON log records whose ``event`` field is ``event``."""
    return [record for record in log_records(process) if record.get("event") == event]


def find_record(process: ServiceProcess, **fields: Any) -> dict | None:
    """The first log record whose fields include ``fields``, if any."""
    return next((r for r in log_records(process) if all(r.get(k) == v for k, v in fields.items())), None)
