"""The operator commands against a real Redis with real jobs in it."""

from __future__ import annotations

import io
import json
import signal

import pytest

from harness import QUEUE, RedisServer, add_jobs, cli, cli_main, cli_on_terminal, wait_until

# isort: split
from {{ cookiecutter.package_name }}.ops import Progress

COMMANDS = ("stats", "retry-failed", "clean", "pause", "resume", "drain")
# Keep every failed job for inspection, whatever the template's retention answer was.
KEEP_FAILED = {"KEEP_FAILED_COUNT": "10000"}


def counts(redis_url: str) -> dict:
    result = cli(redis_url, "stats", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_stats_pause_and_resume_with_a_running_worker(redis_server, start_service):
    url = redis_server.admin_url  # operator commands run with operator credentials
    assert cli(url, "pause").returncode == 0
    add_jobs(url, [("echo", {"n": n}, {}) for n in range(3)])
    worker = start_service(redis_server.url, **KEEP_FAILED)
    worker.wait_for_log("worker started")

    stats = wait_until(lambda: (s := counts(url))["workers"] and s, 15, "the worker in stats")
    assert stats["paused"] is True
    assert len(stats["workers"]) == 1
    assert stats["counts"]["waiting"] == 3
    assert stats["counts"]["completed"] == 0, "a paused queue gives no jobs to workers"

    assert cli(url, "resume").returncode == 0
    wait_until(lambda: counts(url)["counts"]["completed"] == 3, 15, "jobs completed after resume")
    table = cli(url, "stats").stdout
    assert f"queue {QUEUE}\n" in table
    assert "completed" in table
    assert "workers connected: 1" in table


def test_retry_failed_by_name_then_all(redis_server, start_service):
    url = redis_server.admin_url  # operator commands run with operator credentials
    worker = start_service(redis_server.url, **KEEP_FAILED)
    worker.wait_for_log("worker started")
    named = add_jobs(url, [("test-fail", {}, {"attempts": 1})] * 3)
    others = add_jobs(url, [("no-such-job", {}, {"attempts": 1})] * 2)
    wait_until(lambda: counts(url)["counts"]["failed"] == 5, 15, "five failed jobs")
    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0

    result = cli(url, "retry-failed", "--name", "test-fail")
    assert result.returncode == 0, result.stderr
    assert "re-queued 3 failed job(s) named 'test-fail'" in result.stdout
    assert "retried 3 of 5: done" in result.stderr, "plain progress lines when not on a terminal"
    assert "\r" not in result.stderr
    r = redis_server.client()
    assert sorted(r.lrange(f"bull:{QUEUE}:wait", 0, -1)) == sorted(named)
    assert sorted(r.zrange(f"bull:{QUEUE}:failed", 0, -1)) == sorted(others)
    assert r.hget(f"bull:{QUEUE}:{named[0]}", "atm") in (None, "0"), "re-queued jobs get their attempts back"

    code, screen = cli_on_terminal(url, "retry-failed")
    assert code == 0, screen
    assert "\r[###" in screen, f"a progress bar on a terminal: {screen!r}"
    assert "re-queued 2 failed job(s)" in screen
    assert r.zcard(f"bull:{QUEUE}:failed") == 0


def test_clean_removes_only_jobs_older_than_the_age(redis_server, start_service):
    url = redis_server.admin_url  # operator commands run with operator credentials
    worker = start_service(redis_server.url, **KEEP_FAILED)
    worker.wait_for_log("worker started")
    add_jobs(url, [("echo", {}, {})] * 3 + [("test-fail", {}, {"attempts": 1})] * 2)
    wait_until(lambda: counts(url)["counts"]["failed"] == 2 and counts(url)["counts"]["completed"] == 3, 15, "done")

    result = cli(url, "clean", "--age", "1h")
    assert result.returncode == 0, result.stderr
    assert "removed 0 completed, 0 failed" in result.stdout
    assert counts(url)["counts"]["completed"] == 3, "jobs younger than the age stay"

    result = cli(url, "clean", "--age", "0s", "--state", "failed")
    assert "removed 2 failed" in result.stdout
    after = counts(url)["counts"]
    assert (after["completed"], after["failed"]) == (3, 0)

    assert "removed 3 completed, 0 failed" in cli(url, "clean", "--age", "0").stdout
    assert counts(url)["counts"]["completed"] == 0


def test_drain_removes_waiting_jobs_only_after_confirmation(redis_server):
    url = redis_server.admin_url  # operator commands run with operator credentials
    add_jobs(url, [("echo", {}, {})] * 4 + [("echo", {}, {"delay": 600_000})])

    refused = cli(url, "drain")
    assert refused.returncode != 0
    assert "pass --yes" in refused.stderr
    code, screen = cli_on_terminal(url, "drain", answer="n")
    assert code != 0
    assert "remove 4 job(s)" in screen
    assert counts(url)["counts"]["waiting"] == 4, "nothing removed without a yes"

    code, screen = cli_on_terminal(url, "drain", answer="y")
    assert code == 0, screen
    after = counts(url)["counts"]
    assert (after["waiting"], after["delayed"]) == (0, 1), "drain keeps delayed jobs unless --delayed"

    assert cli(url, "drain", "--delayed", "--yes").returncode == 0
    assert counts(url)["counts"]["delayed"] == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: {{ cookiecutter.project_slug }} {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clean", "--age", "soon"], "'soon' is not an age like 90s"),
        (["clean"], "the following arguments are required: --age"),
        (["clean", "--age", "1h", "--state", "active"], "invalid choice: 'active'"),
        (["retry-failed", "--name"], "expected one argument"),
        (["stats", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["stats"], ["retry-failed"], ["clean", "--age", "1d"], ["pause"], ["resume"], ["drain", "--yes"]]
)
def test_unreachable_redis_is_a_clear_error(args, tmp_path):
    nowhere = RedisServer(tmp_path / "never-started").url
    result = cli(nowhere, *args)
    assert result.returncode == 1
    assert f"error: cannot reach redis at {nowhere}" in result.stderr


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, plain = Terminal(), io.StringIO()
    for stream in (terminal, plain):
        progress = Progress("checked", 400, stream)
        for _ in range(2):
            progress.advance(200)
        progress.done()
    assert terminal.getvalue().startswith("\r[###############---------------] 200/400 checked")
    assert terminal.getvalue().endswith("\r[##############################] 400/400 checked\n")
    assert plain.getvalue() == "checked 200 of 400\nchecked 400 of 400: done\n"
