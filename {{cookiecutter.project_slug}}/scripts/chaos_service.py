"""The processes the chaos drill and the soak run: Redis on the generated redis.conf, and the service.

Process management itself lives in localredis.py (RedisServer, wait_until)
and localservice.py (ServiceProcess), shared with the tests; this module only
says how the drill uses them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
from pathlib import Path

import localredis
import localservice
import redis

from {{ cookiecutter.package_name }}.settings import Settings

SCRIPTS = localredis.PROJECT / "scripts"
# Everything the drill changes in the generated redis.conf, in one place.
# localredis.RedisServer already appends --port (a free one), --bind 127.0.0.1
# and --dir (the drill's own directory); these come after them.
REDIS_OVERRIDES = (
    # The drill logs in as the default user: ACLs are proven by the config
    # tests, and a production aclfile in redis.conf would need its secrets here.
    "--aclfile",
    "",
    # Log to stdout, which RedisServer writes to <dir>/redis.log.
    "--logfile",
    "",
    "--daemonize",
    "no",
)
WORKERS = 2


def redis_server(workdir: Path, extra: tuple[str, ...] = ()) -> localredis.RedisServer:
    """Redis as production runs it (AOF everysec, noeviction, ...), plus REDIS_OVERRIDES and ``extra``."""
    return localredis.RedisServer(workdir, config=localredis.REDIS_CONF, args=(*REDIS_OVERRIDES, *extra))


class Workers:
    """The service under test: one parent whose supervisor runs WORKERS worker processes (WORKER_PROCESSES)."""

    def __init__(self, env: dict[str, str], logfile: Path) -> None:
        self.env = {**env, "WORKER_PROCESSES": str(WORKERS)}
        self.logfile = logfile
        self.processes: list[localservice.ServiceProcess] = []

    def start(self) -> Workers:
        self.processes = [localservice.ServiceProcess(["worker"], self.env, self.logfile)]
        return self

    def started(self) -> int:
        """Worker processes that have logged "worker started" in this run, restarts included."""
        return self.logfile.read_text(errors="replace").count('"worker started"')

    def wait_ready(self, before: int, timeout: float) -> None:
        localredis.wait_until(lambda: self.started() >= before + WORKERS, timeout, f"{WORKERS} workers started")

    def worker_pids(self) -> list[int]:
        return [pid for process in self.processes for pid in children(process.process.pid)]

    def kill_one(self, rng: random.Random, timeout: float) -> int:
        """SIGKILL one worker process; returns once a replacement process runs."""
        pids = localredis.wait_until(self.worker_pids, timeout, "a live worker process")
        victim = rng.choice(sorted(pids))
        os.kill(victim, signal.SIGKILL)
        localredis.wait_until(
            lambda: len(set(self.worker_pids()) - {victim}) >= WORKERS, timeout, "a replacement worker"
        )
        return victim

    def terminate(self, timeout: float) -> list[int]:
        """SIGTERM the service and wait for it to exit; returns the exit codes."""
        for process in self.processes:
            process.signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout))
            except subprocess.TimeoutExpired:
                codes.append(None)
            process.stop()
        return codes

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited while we looked
            # Fields after the command name, which may itself contain spaces and ')'.
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.append(int(entry.name))
    return found


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def run_env(redis_url: str, queue: str, **overrides: str) -> dict[str, str]:
    """The service's environment for the drill: its Redis, its queue, and the drill's handlers."""
    return localservice.service_env(
        redis_url,
        paths=[SCRIPTS],
        QUEUE_NAME=queue,
        HANDLER_MODULES=f"{localservice.PACKAGE}.jobs,chaos_handlers",
        **overrides,
    )


class QueueKeys:
    """BullMQ's key layout for one queue, read with a plain client."""

    UNFINISHED_LISTS = ("wait", "paused", "active")
    UNFINISHED_ZSETS = ("delayed", "prioritized", "waiting-children")

    def __init__(self, settings: Settings) -> None:
        self.base = f"{settings.queue_prefix}:{settings.queue_name}"

    def key(self, name: str) -> str:
        return f"{self.base}:{name}"

    def unfinished(self, client: redis.Redis) -> int:
        """Jobs not yet completed or failed: waiting, delayed or active."""
        pipe = client.pipeline(transaction=False)
        for name in self.UNFINISHED_LISTS:
            pipe.llen(self.key(name))
        for name in self.UNFINISHED_ZSETS:
            pipe.zcard(self.key(name))
        return sum(pipe.execute())

    def members(self, client: redis.Redis, name: str) -> set[str]:
        """Job ids in one state (list or sorted set)."""
        key = self.key(name)
        if client.type(key) == "list":
            return set(client.lrange(key, 0, -1))
        return set(client.zrange(key, 0, -1))
