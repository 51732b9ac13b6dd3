"""Helpers for the observability and operations tests: jobs straight into a queue, CLI runs, HTTP gets."""

from __future__ import annotations

import asyncio
import http.client
import importlib
import os
import pty
import select
import subprocess
import sys
from typing import Any

import redis.asyncio
from bullmq import Queue

from conftest import QUEUE
from support import PACKAGE, PROJECT, service_env


def add_jobs(redis_url: str, jobs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    """Add ``(name, data, options)`` jobs with plain bullmq, as another service's producer would."""

    async def add() -> list[str]:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        queue = Queue(QUEUE, {"connection": client})
        try:
            return [str((await queue.add(name, data, options)).id) for name, data, options in jobs]
        finally:
            await queue.close()
            await client.aclose()

    return asyncio.run(add())


def main(argv: list[str]) -> int:
    """The CLI's ``main`` in this process (for argument handling; nothing here touches Redis)."""
    return importlib.import_module(f"{PACKAGE}.__main__").main(argv)


def cli(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m <package> ARGS`` to the end, output captured (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        env={**service_env(redis_url), "QUEUE_NAME": QUEUE, **env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def cli_on_terminal(redis_url: str, *args: str, answer: str = "") -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, typing ``answer`` if it asks; returns (exit code, screen)."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", PACKAGE, *args],
        env={**service_env(redis_url), "QUEUE_NAME": QUEUE},
        cwd=PROJECT,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    screen = b""
    answered = False
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            process.kill()
            raise AssertionError(f"no output for 30 s from {args}: {screen!r}")
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        if answer and not answered and b"[y/N]" in screen:
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    return process.wait(30), screen.decode(errors="replace")


def http_get(port: int, path: str, timeout: float = 5) -> tuple[int, str]:
    """Status and body of ``GET path`` on localhost; (0, reason) when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError as error:
        return 0, str(error)
    finally:
        connection.close()
