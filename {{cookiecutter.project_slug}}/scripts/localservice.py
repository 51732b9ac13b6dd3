"""The service as a child process on this machine: ``python -m <package> ARGS``, its output in a file.

Used by the tests (tests/harness.py) and the chaos drill (chaos.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import localredis
{%- if cookiecutter.use_encryption %}

from {{ cookiecutter.package_name }}.encryption import generate_key
{%- endif %}

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT = localredis.PROJECT
{%- if cookiecutter.use_encryption %}
# A throw-away encryption key for this run: the service does not start without keys.
SESSION_KEY = generate_key()
{%- endif %}


def service_env(redis_url: str, paths: Iterable[Path] = (), **overrides: str) -> dict[str, str]:
    """The service's environment: this Redis, JSON logs, the package (and ``paths``) importable.

    The caller's REDIS_* and QUEUE_* variables are left out, so a developer's
    own settings never point a test at another Redis or queue.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDIS_", "QUEUE_"))}
    env.update(
        REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join(str(path) for path in (PROJECT / "src", *paths)),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
{%- if cookiecutter.use_encryption %}
        ENCRYPTION_KEYS=SESSION_KEY,
        ENCRYPTION_KEYS_FILE="",
{%- endif %}
    )
{%- if cookiecutter.use_metrics %}
    # Services run side by side here; WORKER_PROCESSES=N serves on HEALTH_PORT + 0..N-1.
    env["HEALTH_PORT"] = str(localredis.free_port(span=4))
{%- endif %}
    env.update(overrides)
    return env


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
        localredis.wait_until(lambda: text in self.log or self._died(), timeout, f"{text!r} in {self.logfile.name}")
        if text not in self.log:
            raise AssertionError(f"process exited ({self.process.returncode}) before logging {text!r}:\n{self.log}")

    def wait_for(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        """``wait_until``, with this process's log in the failure message."""
        try:
            return localredis.wait_until(condition, timeout, what)
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
