"""A redis-server this machine runs: on a free port, with the generated redis.conf and ACL users when asked.

Used by the tests (tests/harness.py), the benchmark (bench.py) and the chaos
drill (chaos.py). Nothing here fakes Redis: it starts the real server, and
every wait polls a condition until a deadline.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

PROJECT = Path(__file__).resolve().parent.parent
REDIS_CONF = PROJECT / "redis.conf"
SERVICE_USER = {{ cookiecutter.project_slug | tojson }}
ADMIN_USER = "admin"


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


def free_port(span: int = 1) -> int:
    """A free port; with ``span``, the first of that many free ports in a row."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = sock.getsockname()[1]
        if span == 1 or all(_free(port) for port in range(first + 1, first + span)):
            return first


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server is not installed; the tests need a real Redis "
            "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
        )
    return found


class RedisServer:
    """A redis-server of one's own: start, kill -9, pause, restart on the same files and port."""

    def __init__(
        self,
        workdir: Path,
        *,
        config: Path | None = None,
        args: tuple[str, ...] = (),
        users: AclUsers | None = None,
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.config = config
        self.args = args
        self.users = users
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def secured(cls, workdir: Path, *, prefix: str = "bull") -> RedisServer:
        """The production setup: redis.conf plus users.acl (default user off).

        ``url`` logs in as the restricted service user; ``client()`` as admin.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(workdir, config=REDIS_CONF, users=AclUsers(workdir / "users.acl", prefix=prefix))

    @property
    def url(self) -> str:
        if self.users:
            return f"redis://{SERVICE_USER}:{self.users.service_password}@127.0.0.1:{self.port}/0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def admin_url(self) -> str:
        """The URL an operator uses (the admin user when the server has ACL users)."""
        if self.users:
            return f"redis://{ADMIN_USER}:{self.users.admin_password}@127.0.0.1:{self.port}/0"
        return self.url

    def command(self) -> list[str]:
        if self.config is None:
            # No config file: a throw-away server with the one setting BullMQ needs.
            base = [redis_server_binary(), "--save", "", "--appendonly", "no"]
            base += ["--maxmemory-policy", "noeviction"]
        else:
            base = [redis_server_binary(), str(self.config)]
        acl = ["--aclfile", str(self.users.path)] if self.users else []
        return [*base, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), *acl, *self.args]

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
        """A plain client; the admin user when the server has ACL users."""
        if self.users and "username" not in options:
            options.update(username=ADMIN_USER, password=self.users.admin_password)
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5, **options)

    def service_client(self) -> redis.Redis:
        """A client logged in as the restricted service user (needs ``secured()``)."""
        assert self.users, "service_client() needs RedisServer.secured()"
        return self.client(username=SERVICE_USER, password=self.users.service_password)

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

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """:meth:`pause` for the ``with`` block: TCP connections are still accepted (the kernel does it)."""
        self.pause()
        try:
            yield
        finally:
            self.resume()


class AclUsers:
    """users.acl rendered by scripts/render_acl.py with throw-away passwords."""

    def __init__(self, path: Path, *, prefix: str = "bull") -> None:
        self.path = path
        self.service_password = secrets.token_urlsafe(24)
        self.admin_password = secrets.token_urlsafe(24)
        env = {
            **os.environ,
            "REDIS_SERVICE_PASSWORD": self.service_password,
            "REDIS_ADMIN_PASSWORD": self.admin_password,
        }
        render = [sys.executable, str(PROJECT / "scripts" / "render_acl.py"), "--output", str(path), "--prefix", prefix]
        subprocess.run(render, env=env, check=True, capture_output=True, timeout=30)
