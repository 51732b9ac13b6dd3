"""Errors outside any job: background tasks, threads, fatal start-up errors, crashes in C.

Each must reach the log (with its traceback) and never leave a silent,
hanging or half-dead process.
"""

from __future__ import annotations

import signal

from harness import PACKAGE, QUEUE, add_jobs, find_record, wait_until


def test_errors_in_background_tasks_and_threads_are_logged_and_the_worker_goes_on(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    add_jobs(redis_server.url, [("test-background-crash", {}, {}), ("test-thread-crash", {}, {})])

    task_error = wait_until(lambda: find_record(worker, event="unhandled_async_error"), 15, "background task error")
    assert "background task crashed on purpose" in task_error["traceback"]
    thread_error = wait_until(lambda: find_record(worker, event="unhandled_thread_error"), 15, "thread error")
    assert "thread crashed on purpose" in thread_error["traceback"]

    r = redis_server.client()
    [later] = add_jobs(redis_server.url, [("echo", {}, {})])
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", later) is not None, 15, "a later job completed")
    assert worker.process.poll() is None


def test_a_fatal_error_exits_non_zero_with_a_log_line_and_never_hangs(redis_server, start_service):
    # The module leaves a non-daemon thread running, which would keep a plain
    # Python process alive after the error.
    modules = f"{PACKAGE}.jobs,handlers_that_fail_to_import"
    worker = start_service(redis_server.url, HANDLER_MODULES=modules)
    assert worker.wait(15) == 1
    record = find_record(worker, event="worker_failed")
    assert record, worker.log
    assert record["level"] == "critical"
    assert "misconfigured on purpose" in record["traceback"]


def test_faulthandler_dumps_stacks_on_sigusr1_and_on_a_crash(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    worker.signal(signal.SIGUSR1)
    worker.wait_for_log("most recent call first")

    r = redis_server.client()
    [job_id] = add_jobs(redis_server.url, [("echo", {}, {})])
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", job_id) is not None, 15, "a job after the stack dump")

    worker.signal(signal.SIGABRT)  # what a crash in C code (hiredis, uvloop) looks like
    assert worker.wait(15) == -signal.SIGABRT
    assert "Fatal Python error: Aborted" in worker.log
