"""Real processes for the tests: a redis-server on a free port and worker processes.

Nothing here fakes Redis. Waits poll a condition until a deadline; no test
sleeps and hopes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server is not installed; the tests need a real Redis "
            "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
        )
    return found


class RedisServer:
    """A redis-server the test owns: start, kill -9, restart on the same files."""

    def __init__(self, workdir: Path, *, config: Path | None = None, args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.config = config
        self.args = args
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        if self.config is None:
            # No config file: a throw-away server with the one setting BullMQ needs.
            base = [redis_server_binary(), "--save", "", "--appendonly", "no"]
            base += ["--maxmemory-policy", "noeviction"]
        else:
            base = [redis_server_binary(), str(self.config)]
        return [*base, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), *self.args]

    def start(self) -> RedisServer:
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115  (closed by the process)
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ping, 10, f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        try:
            return self.client().ping()
        except redis.RedisError:
            return False

    def client(self, **options) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5, **options)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, as a crash would be."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def pause(self) -> None:
        """SIGSTOP: the server holds every connection but answers nothing, as behind a network partition."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`: queued commands run at once."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


class ServiceProcess:
    """``python -m <package> ARGS`` as a real child process, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], logfile: Path) -> None:
        self.logfile = logfile
        self.output = open(logfile, "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", PACKAGE, *args],
            env=env,
            cwd=PROJECT,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.logfile.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 15) -> None:
        wait_until(lambda: text in self.log or self._died(), timeout, f"{text!r} in {self.logfile.name}")
        if text not in self.log:
            raise AssertionError(f"process exited ({self.process.returncode}) before logging {text!r}:\n{self.log}")

    def _died(self) -> bool:
        return self.process.poll() is not None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.output.close()


def service_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """Environment for a service process: the test's Redis and fast-failing test knobs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDIS_", "QUEUE_"))}
    env.update(
        REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join([str(PROJECT / "src"), str(PROJECT / "tests")]),
        HANDLER_MODULES=f"{PACKAGE}.jobs,handlers_for_tests",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        # Keep finished jobs so tests can inspect them, whatever the template's
        # retention answers were; the retention tests set their own bounds.
        KEEP_COMPLETED_COUNT="10000",
        KEEP_COMPLETED_AGE="3600",
    )
    env.update(overrides)
    return env
