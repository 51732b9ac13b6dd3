"""Preflight against real servers: an evicting Redis is refused, AOF off is only a warning.

bullmq 3.4.4 for Python never runs its eviction-policy warning or version check
when a Worker or Queue starts, so the service's preflight must.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import PROJECT, RedisServer, cli, enqueue, events, wait_completed

EXIT_UNFIT = 78  # EX_CONFIG from sysexits.h: supervisors should not restart in a loop


@pytest.fixture
def evicting_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "lru-redis", args=("--maxmemory-policy", "allkeys-lru")).start()
    assert server.client().config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    yield server
    server.stop()


def preflight_lines(log: str, setting: str) -> list[dict]:
    return [record for record in events(log, "preflight") if record.get("setting") == setting]


def test_worker_refuses_to_start_on_an_evicting_redis(evicting_redis, start_service):
    worker = start_service(evicting_redis.url)
    assert worker.wait(30) == EXIT_UNFIT
    [line] = preflight_lines(worker.log, "maxmemory-policy")
    assert line["level"] == "error"
    for words in ("'allkeys-lru'", "CONFIG SET maxmemory-policy noeviction", "ALLOW_EVICTION_POLICY=true"):
        assert words in line["message"]
    assert "worker started" not in worker.log


def test_allow_eviction_policy_runs_anyway_with_a_warning(evicting_redis, start_service):
    worker = start_service(evicting_redis.url, ALLOW_EVICTION_POLICY="true")
    worker.wait_for_log("worker started")
    [line] = preflight_lines(worker.log, "maxmemory-policy")
    assert line["level"] == "warning"
    assert "ALLOW_EVICTION_POLICY is set: running anyway" in line["message"]
    wait_completed(evicting_redis.client(), enqueue(evicting_redis.url), 10)


def test_preflight_command_exits_non_zero_on_an_evicting_redis(evicting_redis):
    result = cli(evicting_redis.url, "preflight")
    assert result.returncode == EXIT_UNFIT, result.stdout + result.stderr
    assert "maxmemory-policy: is 'allkeys-lru'" in result.stdout
    assert "redis is NOT fit for bullmq" in result.stdout


def test_preflight_command_passes_with_a_warning_when_aof_is_off(tmp_path):
    server = RedisServer(tmp_path / "no-aof-redis").start()  # no config file: AOF off
    try:
        result = cli(server.url, "preflight")
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = preflight_lines(result.stdout, "appendonly")
    assert line["level"] == "warning"
    assert "redis is fit for bullmq" in result.stdout


def test_preflight_command_is_silent_on_the_projects_redis_conf(tmp_path):
    server = RedisServer(tmp_path / "conf-redis", config=PROJECT / "redis.conf").start()
    try:
        result = cli(server.url, "preflight")
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not events(result.stdout, "preflight"), result.stdout
