"""Tests of your handlers in jobs.py: yours, like jobs.py; template updates never overwrite this file.

Handlers are plain ``async def`` functions of a job, so most of their tests
call them directly; test_smoke.py shows the whole path through a real worker.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from {{ cookiecutter.package_name }} import jobs
from {{ cookiecutter.package_name }}.registry import UnrecoverableError, lookup


def job(**data: object) -> SimpleNamespace:
    """The parts of a bullmq Job the example handlers read."""
    return SimpleNamespace(id="1", name="test", data=data)


def test_echo_returns_the_job_data():
    assert asyncio.run(jobs.echo(job(hello="world"))) == {"echo": {"hello": "world"}}


def test_sleep_refuses_a_negative_duration_without_retries():
    with pytest.raises(UnrecoverableError, match="non-negative"):
        asyncio.run(jobs.sleep(job(seconds=-1)))


def test_handlers_are_registered_under_their_job_names():
    assert lookup("echo") is jobs.echo
    assert lookup("sleep") is jobs.sleep
