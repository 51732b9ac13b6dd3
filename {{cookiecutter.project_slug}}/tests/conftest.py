"""Fixtures only; helpers live in harness.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import RedisServer, ServiceProcess, service_env

# One switch for the whole suite: REDIS_TEST_USER=service (`make test-acl`)
# starts every `redis_server` on redis.conf + users.acl, and workers log in as
# the restricted service user. The test's own `redis_server.client()` is admin.
RESTRICTED = os.environ.get("REDIS_TEST_USER", "") == "service"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    workdir = tmp_path / "redis"
    server = (RedisServer.secured(workdir) if RESTRICTED else RedisServer(workdir)).start()
    yield server
    server.stop()


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Always the production setup: redis.conf, users.acl, service user in ``url``."""
    server = RedisServer.secured(tmp_path / "secured-redis").start()
    yield server
    server.stop()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start ``python -m <package> ARGS`` (default: worker) against a Redis URL; stopped after the test."""
    started: list[ServiceProcess] = []

    def start(redis_url: str, *args: str, **env: str) -> ServiceProcess:
        logfile = tmp_path / f"service-{len(started)}.log"
        process = ServiceProcess(list(args) or ["worker"], service_env(redis_url, **env), logfile)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
