"""Real processes for the tests: a redis-server on a free port and worker processes.

Nothing here fakes Redis. Waits poll a condition until a deadline; no test
sleeps and hopes.
"""

from __future__ import annotations

import asyncio
{% if cookiecutter.use_encryption -%}
import base64
{% endif -%}
import json
import os
import secrets
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
import redis.asyncio as aredis
from bullmq import Queue

PROJECT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
{%- if cookiecutter.use_encryption %}
# A throw-away encryption key for this test session: the service does not start without keys.
SESSION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
{%- endif %}

# --- deploy: the generated redis.conf and ACL users (see AclUsers) ---
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
    """A redis-server the test owns: start, kill -9, restart on the same files."""

    def __init__(
        self,
        workdir: Path,
        *,
        config: Path | None = None,
        args: tuple[str, ...] = (),
        users: AclUsers | None = None,
    ) -> None:
        self.workdir = workdir
        self.config = config
        self.args = args
        self.users = users
        self.port = free_port()
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
        """A client for the test itself; the admin user when the server has ACL users."""
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

    def wait_for(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        """``wait_until``, with this process's log in the failure message."""
        try:
            return wait_until(condition, timeout, what)
        except AssertionError as error:
            raise AssertionError(f"{error}; the process logged:\n{self.log}") from None

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
        KEEP_FAILED_COUNT="10000",
{%- if cookiecutter.use_encryption %}
        ENCRYPTION_KEYS=SESSION_KEY,
        ENCRYPTION_KEYS_FILE="",
{%- endif %}
    )
{%- if cookiecutter.use_metrics %}
    # observe.py: tests run workers side by side; WORKER_PROCESSES=N serves on HEALTH_PORT + 0..N-1.
    env["HEALTH_PORT"] = str(free_port(span=4))
{%- endif %}
    env.update(overrides)
    return env


# --- worker runtime tests: jobs from "another producer", structured log records ---


def add_jobs(redis_url: str, queue: str, jobs: list[tuple[str, dict, dict]]) -> list[str]:
    """Add jobs with a bare bullmq Queue and no default options, as another service would."""

    async def add() -> list[str]:
        bullmq_queue = Queue(queue, {"connection": aredis.Redis.from_url(redis_url, decode_responses=True)})
        try:
            return [str((await bullmq_queue.add(name, data, options)).id) for name, data, options in jobs]
        finally:
            await bullmq_queue.close()

    return asyncio.run(add())


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
