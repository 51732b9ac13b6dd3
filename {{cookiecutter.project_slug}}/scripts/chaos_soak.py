"""The soak (``scripts/chaos.py --soak``): many no-op jobs through one worker; does memory settle?

Two checkpoints, both with the queue drained and the worker idle: after a
warm-up (by then the completed set has reached its retention cap and BullMQ's
events stream its length cap), and at the end. Targets:

- the worker's RSS grows by less than RSS_GROWTH_LIMIT between them;
- Redis is back within retention bounds at the end: no more completed jobs
  than KEEP_COMPLETED_COUNT, no job keys beyond those kept, and used_memory no
  more than the warm-up checkpoint's plus what the extra kept jobs need.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import localredis
import localservice
import redis
from chaos_service import QueueKeys, redis_server, rss_bytes, run_env

from {{ cookiecutter.package_name }}.producer import Producer
from {{ cookiecutter.package_name }}.settings import Settings

MB = 1024 * 1024
RSS_GROWTH_LIMIT = 20 * MB
# Allocator noise in Redis's used_memory between two equal states.
MEMORY_SLACK = 0.10
IN_FLIGHT = 20  # concurrent adds
BACKLOG = 5000  # the producer waits while more jobs than this are waiting


@dataclass(frozen=True)
class Checkpoint:
    jobs: int
    rss: int
    used_memory: int
    completed: int
    keys: int


class Sampler(threading.Thread):
    """Every few seconds: jobs done so far, the worker's RSS, Redis's used_memory."""

    def __init__(self, pid: int, client: redis.Redis, keys: QueueKeys, every: float, added) -> None:
        super().__init__(name="sampler", daemon=True)
        self.pid, self.client, self.keys, self.every, self.added = pid, client, keys, every, added
        self.peak_rss = self.peak_memory = 0
        self.stopping = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            rss, used = rss_bytes(self.pid), used_memory(self.client)
            self.peak_rss, self.peak_memory = max(self.peak_rss, rss), max(self.peak_memory, used)
            done = self.added() - self.keys.unfinished(self.client)
            print(
                f"soak: {time.monotonic() - self.began:6.0f}s done={done:>7} worker_rss={rss / MB:6.1f}MB "
                f"redis_used_memory={used / MB:6.1f}MB",
                flush=True,
            )


class Feed:
    """Adds no-op jobs, IN_FLIGHT at a time, holding back while the backlog is long."""

    def __init__(self, settings: Settings, client: redis.Redis, keys: QueueKeys) -> None:
        self.settings, self.client, self.keys = settings, client, keys
        self.added = 0

    async def add(self, count: int) -> None:
        remaining = iter(range(count))
        async with Producer(self.settings) as producer:

            async def lane() -> None:
                for number in remaining:  # one iterator shared by every lane
                    if number % 500 == 0:
                        await self.backlog_below(BACKLOG)
                    await producer.enqueue("chaos-noop", {})
                    self.added += 1

            await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))

    async def backlog_below(self, limit: int) -> None:
        # Keeps Redis from holding the whole run's jobs at once: the soak
        # measures steady state, not how big a backlog can get.
        while True:
            if self.client.llen(self.keys.key("wait")) <= limit:
                return
            await asyncio.sleep(0.2)


def run_soak(jobs: int, every: float, workdir: Path) -> bool:
    began = time.monotonic()
    warmup = min(max(jobs // 10, 5000), jobs // 2)
    server = redis_server(workdir / "redis").start()
    env = run_env(
        server.url,
        "soak",
        # The generated retention defaults, not the tests' keep-everything.
        KEEP_COMPLETED_COUNT=str(Settings.keep_completed_count),
        KEEP_COMPLETED_AGE=str(Settings.keep_completed_age),
        WORKER_PROCESSES="1",
    )
    settings = Settings.from_env(env)
    client, keys = server.client(), QueueKeys(settings)
    worker = localservice.ServiceProcess(["worker"], env, workdir / "worker.log")
    feed = Feed(settings, client, keys)
    try:
        worker.wait_for_log("worker started", timeout=30)
        empty = checkpoint(worker.process.pid, client, keys, 0)
        sampler = Sampler(worker.process.pid, client, keys, every, lambda: feed.added)
        sampler.start()
        asyncio.run(feed.add(warmup))
        warm = drained_checkpoint(worker.process.pid, client, keys, feed.added)
        asyncio.run(feed.add(jobs - warmup))
        end = drained_checkpoint(worker.process.pid, client, keys, feed.added)
        sampler.stopping.set()
        failed = client.zcard(keys.key("failed"))
    finally:
        worker.stop()
        server.stop()
    return report(jobs, time.monotonic() - began, (empty, warm, end), sampler, failed)


def drained_checkpoint(pid: int, client: redis.Redis, keys: QueueKeys, jobs: int) -> Checkpoint:
    localredis.wait_until(lambda: keys.unfinished(client) == 0, 600, "the soak queue to drain", interval=0.2)
    return checkpoint(pid, client, keys, jobs)


def checkpoint(pid: int, client: redis.Redis, keys: QueueKeys, jobs: int) -> Checkpoint:
    return Checkpoint(jobs, rss_bytes(pid), used_memory(client), client.zcard(keys.key("completed")), client.dbsize())


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def report(jobs: int, wall: float, points: tuple[Checkpoint, ...], sampler: Sampler, failed: int) -> bool:
    empty, warm, end = points
    keep = Settings.keep_completed_count
    growth = end.rss - warm.rss
    rss_ok = growth < RSS_GROWTH_LIMIT
    # Between the checkpoints only the number of kept completed jobs may change,
    # and only up to the configured count (it was not reached at warm-up if
    # KEEP_COMPLETED_COUNT is above the warm-up's jobs).
    per_job = (warm.used_memory - empty.used_memory) / max(warm.completed, 1)
    more_kept = max(min(keep, end.jobs) - warm.completed, 0)
    bound = (warm.used_memory + more_kept * per_job) * (1 + MEMORY_SLACK)
    peak_rss = max(sampler.peak_rss, warm.rss, end.rss)
    peak_memory = max(sampler.peak_memory, warm.used_memory, end.used_memory)
    # Job keys beyond the kept jobs would be a leak; a handful are the queue's own (meta, id, events, ...).
    redis_ok = end.completed <= keep and end.used_memory <= bound and end.keys <= end.completed + failed + 20
    print(
        f"soak summary: {'PASS' if rss_ok and redis_ok else 'FAIL'} jobs={jobs} wall={wall:.0f}s "
        f"({jobs / wall:.0f} jobs/s) worker_rss: start={empty.rss / MB:.1f}MB "
        f"after_warmup({warm.jobs})={warm.rss / MB:.1f}MB end={end.rss / MB:.1f}MB "
        f"peak={peak_rss / MB:.1f}MB growth_after_warmup={growth / MB:+.2f}MB "
        f"(limit {RSS_GROWTH_LIMIT // MB}MB) "
        f"redis_used_memory: empty={empty.used_memory / MB:.1f}MB after_warmup={warm.used_memory / MB:.1f}MB "
        f"peak={peak_memory / MB:.1f}MB end={end.used_memory / MB:.1f}MB (bound {bound / MB:.1f}MB) "
        f"completed_kept={end.completed} (KEEP_COMPLETED_COUNT={keep}) keys={end.keys} failed={failed}",
        flush=True,
    )
    return rss_ok and redis_ok
