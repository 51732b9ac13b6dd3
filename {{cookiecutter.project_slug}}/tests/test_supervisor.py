"""WORKER_PROCESSES: a parent that forwards signals, restarts crashed children and gives up on crash loops."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness import QUEUE, enqueue, events, wait_until

FAST_RESTARTS = {"WORKER_RESTART_DELAY": "0.2"}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to reap it.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"


def child_pids(process) -> list[int]:
    return [record["pid"] for record in events(process, "worker_process_started")]


def test_children_share_the_queue_and_stop_gracefully_on_sigterm(redis_server, start_service):
    parent = start_service(redis_server.url, WORKER_PROCESSES="2")
    parent.wait_for(lambda: len(events(parent, "worker_started")) == 2, 30, "two workers started")
    children = child_pids(parent)
    slow = enqueue(redis_server.url, "sleep", {"seconds": 1.5})
    r = redis_server.client()
    wait_until(lambda: r.llen(f"bull:{QUEUE}:active") == 1, 10, "the slow job active")

    parent.signal(signal.SIGTERM)
    assert parent.wait(30) == 0, parent.log
    # The in-flight job finished: the signal reached its worker as a graceful stop.
    assert r.zscore(f"bull:{QUEUE}:completed", slow) is not None, parent.log
    assert len(events(parent, "worker_stopped")) == 2
    assert not any(alive(pid) for pid in children)


def test_a_child_that_dies_is_restarted(redis_server, start_service):
    parent = start_service(redis_server.url, WORKER_PROCESSES="2", **FAST_RESTARTS)
    parent.wait_for(lambda: len(events(parent, "worker_started")) == 2, 30, "two workers started")
    victim = child_pids(parent)[0]
    os.kill(victim, signal.SIGKILL)

    wait_until(lambda: len(child_pids(parent)) == 3, 30, "a replacement worker process")
    parent.wait_for(lambda: len(events(parent, "worker_started")) == 3, 30, "the replacement working")
    died = events(parent, "worker_process_died")
    assert [record["exit_code"] for record in died] == [-signal.SIGKILL]
    job = enqueue(redis_server.url, "echo", {})
    r = redis_server.client()
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", job) is not None, 10, "job completed")

    parent.signal(signal.SIGTERM)
    assert parent.wait(30) == 0, parent.log


def test_a_crash_loop_makes_the_parent_give_up_loudly(redis_server, start_service):
    # Every child fails at start-up: its handler module does not exist.
    parent = start_service(
        redis_server.url,
        WORKER_PROCESSES="2",
        WORKER_RESTART_LIMIT="3",
        HANDLER_MODULES="no_such_handlers_module",
        **FAST_RESTARTS,
    )
    assert parent.wait(90) == 1, parent.log
    gave_up = events(parent, "supervisor_gave_up")
    assert gave_up, parent.log
    assert "giving up" in gave_up[0]["message"]
    assert not any(alive(pid) for pid in child_pids(parent))


def test_children_stop_when_the_parent_is_killed(redis_server, start_service):
    parent = start_service(redis_server.url, WORKER_PROCESSES="2")
    parent.wait_for(lambda: len(events(parent, "worker_started")) == 2, 30, "two workers started")
    children = child_pids(parent)
    parent.process.kill()
    parent.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in children), 20, "orphaned workers to stop")


def test_one_process_runs_no_supervisor(redis_server, start_service):
    worker = start_service(redis_server.url, WORKER_PROCESSES="1")
    worker.wait_for_log("worker started")
    assert not events(worker, "supervisor_started")
    pid = worker.process.pid
    children = "".join(path.read_text() for path in Path(f"/proc/{pid}/task").glob("*/children"))
    assert children.split() == [], "a single worker process must not start child processes"
