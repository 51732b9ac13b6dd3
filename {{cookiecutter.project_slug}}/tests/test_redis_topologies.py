"""What bullmq for Python supports beyond one Redis server, against real local servers.

The service's Producer and Worker take a pre-built redis-py client, so a team
can hand them a Redis Cluster client or a Sentinel-managed client. These tests
record what works with the bullmq release in pyproject.toml (README: "Redis
for clusters").
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel

from harness import PACKAGE, {% if cookiecutter.use_encryption %}SESSION_KEY, {% endif %}Producer, RedisServer, Settings, free_port, wait_until

# Imported by name so the import block sorts the same for every package name.
build_worker = importlib.import_module(f"{PACKAGE}.worker").build_worker
load_team_modules = importlib.import_module(f"{PACKAGE}.lifecycle").load_team_modules

QUEUE = "topology"
CLUSTER_BUS_OFFSET = 10_000  # Redis Cluster's bus listens on port + 10000


def cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is valid and free too."""
    while True:
        port = free_port()
        if port + CLUSTER_BUS_OFFSET > 65_535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
            except OSError:
                continue
        return port


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[int]:
    """Three masters, no replicas, all 16384 slots assigned; yields one node's port."""
    ports = [cluster_port() for _ in range(3)]
    nodes = []
    try:
        for port in ports:
            node = RedisServer(tmp_path / f"node-{port}", port=port, args=("--cluster-enabled", "yes"))
            nodes.append(node.start())
        create = ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports), "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=60)
        wait_until(lambda: all(_cluster_ok(port) for port in ports), 30, "cluster_state:ok on every node")
        yield ports[0]
    finally:
        for node in nodes:
            node.kill()


def _cluster_ok(port: int) -> bool:
    info = redis.Redis(port=port, decode_responses=True).execute_command("CLUSTER", "INFO")
    return "cluster_state:ok" in str(info).replace("'", "").replace(": ", ":")


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    """A master and one Sentinel watching it as 'primary'; yields the Sentinel's port."""
    master = RedisServer(tmp_path / "master")
    config = tmp_path / "sentinel" / "sentinel.conf"
    config.parent.mkdir(parents=True)
    config.write_text(f"sentinel monitor primary 127.0.0.1 {master.port} 1\n")
    watcher = RedisServer(config.parent, config=config, args=("--sentinel",))
    try:
        master.start()
        watcher.start()
        yield watcher.port
    finally:
        watcher.kill()
        master.kill()


async def add_and_process(settings: Settings, producer_client, worker_client) -> dict:
    """Enqueue one job with the service's Producer; the service's Worker completes it."""
    load_team_modules(settings)  # as a worker process does at start: the "echo" handler
    async with Producer(settings, connection=producer_client) as producer:
        job_id = await producer.enqueue("echo", {"topology": True})
    worker = build_worker(settings, connection=worker_client)
    done: asyncio.Future = asyncio.get_running_loop().create_future()
    worker.on("completed", lambda job, result: done.done() or done.set_result((job.id, result)))
    running = asyncio.create_task(worker.run())
    try:
        completed_id, result = await asyncio.wait_for(done, 20)
    finally:
        await worker.close()
        await running
    assert completed_id == job_id
    return result


def settings_for(prefix: str) -> Settings:
    env = {"QUEUE_NAME": QUEUE, "QUEUE_PREFIX": prefix}
{%- if cookiecutter.use_encryption %}
    env["ENCRYPTION_KEYS"] = SESSION_KEY
{%- endif %}
    return Settings.from_env(env)


def cluster_client(port: int) -> RedisCluster:
    return RedisCluster(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=30)


def test_cluster_client_works_with_a_hash_tagged_prefix(redis_cluster):
    settings = settings_for("{bull}")
    result = asyncio.run(add_and_process(settings, cluster_client(redis_cluster), cluster_client(redis_cluster)))
    assert result == {"echo": {"topology": True}}


def test_cluster_client_without_a_hash_tag_fails_with_crossslot(redis_cluster):
    async def add() -> None:
        async with Producer(settings_for("bull"), connection=cluster_client(redis_cluster)) as producer:
            await producer.enqueue("echo", {})

    with pytest.raises(Exception, match="hash to the same slot"):
        asyncio.run(add())


def test_sentinel_managed_client_works(sentinel):
    def client():
        watcher = Sentinel([("127.0.0.1", sentinel)], socket_timeout=5)
        return watcher.master_for("primary", decode_responses=True, socket_timeout=30)

    result = asyncio.run(add_and_process(settings_for("bull"), client(), client()))
    assert result == {"echo": {"topology": True}}
