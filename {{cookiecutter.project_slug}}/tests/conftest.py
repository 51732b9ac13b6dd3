from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support import RedisServer, ServiceProcess, service_env

QUEUE = "tests"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start ``python -m <package> ARGS`` against a Redis URL; stopped after the test."""
    started: list[ServiceProcess] = []

    def start(redis_url: str, *args: str, **env: str) -> ServiceProcess:
        env.setdefault("QUEUE_NAME", QUEUE)
        logfile = tmp_path / f"service-{len(started)}.log"
        process = ServiceProcess(list(args) or ["worker"], service_env(redis_url, **env), logfile)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
