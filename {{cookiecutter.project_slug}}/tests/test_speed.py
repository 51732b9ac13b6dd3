"""Fast defaults: uvloop and hiredis are on unless turned off."""

from __future__ import annotations

import asyncio

import pytest

from {{ cookiecutter.package_name }} import speed
from {{ cookiecutter.package_name }}.connections import producer_connection, worker_connection
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError


def loop_module(settings: Settings) -> str:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    # The runner lifecycle.run() uses.
    with asyncio.Runner(loop_factory=speed.loop_factory(settings)) as runner:
        return runner.run(which())


def parser_name(client) -> str:
    return type(client.connection_pool.make_connection()._parser).__name__


def test_uvloop_is_the_default_and_can_be_turned_off():
    assert loop_module(Settings.from_env({})).startswith("uvloop")
    assert loop_module(Settings.from_env({"UVLOOP": "false"})).startswith("asyncio")


@pytest.mark.parametrize("factory", [worker_connection, producer_connection])
def test_hiredis_is_the_default_and_can_be_turned_off(factory):
    assert parser_name(factory(Settings.from_env({}))) == "_AsyncHiredisParser"
    assert parser_name(factory(Settings.from_env({"HIREDIS": "false"}))) != "_AsyncHiredisParser"


def test_worker_processes_takes_a_count_or_auto():
    assert Settings.from_env({}).worker_processes == 1
    assert Settings.from_env({"WORKER_PROCESSES": "3"}).worker_processes == 3
    assert Settings.from_env({"WORKER_PROCESSES": "auto"}).worker_processes >= 1
    with pytest.raises(SettingsError, match="WORKER_PROCESSES='0' must be at least 1"):
        Settings.from_env({"WORKER_PROCESSES": "0"})


def test_the_worker_logs_what_it_runs_on(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    assert '"event_loop": "uvloop"' in worker.log
    assert '"redis_parser": "hiredis"' in worker.log
