"""Faults inside the worker: raising listeners and handlers, unreadable jobs, a dead loop, retries.

Each test runs a real worker process against a real redis-server and checks
that the fault fails at most the job it concerns, and that later jobs still
complete.
"""

from __future__ import annotations

from harness import PACKAGE, QUEUE, add_jobs, find_record, job_hash, wait_completed, wait_failed, wait_until

DELAYED = f"bull:{QUEUE}:delayed"
ONCE = {"attempts": 1}


def test_raising_listeners_do_not_stop_the_worker(redis_server, start_service):
    # Every listener in listeners_that_raise raises: on active, completed, failed and error.
    modules = f"{PACKAGE}.jobs,handlers_for_tests,listeners_that_raise"
    worker = start_service(redis_server.url, HANDLER_MODULES=modules)
    worker.wait_for_log("worker started")
    r = redis_server.client()
    # test-lose-lock makes bullmq emit "error" (it cannot finish a job whose lock is gone).
    first, failing, lost = add_jobs(
        redis_server.url, [("echo", {}, {}), ("test-fail", {}, ONCE), ("test-lose-lock", {}, {})]
    )
    wait_completed(r, first, what="a job whose active and completed listeners raise")
    wait_failed(r, failing)
    wait_until(lambda: find_record(worker, event="worker_error", job_id=lost), 15, "the error event")

    [later] = add_jobs(redis_server.url, [("echo", {"after": "listener errors"}, {})])
    wait_completed(r, later)
    for name in ("on_active", "on_completed", "on_failed", "on_error"):
        worker.wait_for_log(f"event listener {name} raised; ignored", timeout=5)
    assert worker.process.poll() is None


def test_failing_handlers_fail_only_their_job(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    r = redis_server.client()
    failing, unrecoverable, cancelled = add_jobs(
        redis_server.url,
        [
            ("test-fail", {}, ONCE),
            ("test-unrecoverable", {}, {"attempts": 5, "backoff": 1000}),
            ("test-awaits-cancelled", {}, ONCE),
        ],
    )
    assert "failed on purpose" in wait_failed(r, failing)["failedReason"]
    job = wait_failed(r, unrecoverable)
    assert job["atm"] == "1", "UnrecoverableError must not be retried"
    assert "must not be retried" in job["failedReason"]
    assert "raised CancelledError without being cancelled" in wait_failed(r, cancelled)["failedReason"]

    [later] = add_jobs(redis_server.url, [("echo", {}, {})])
    wait_completed(r, later)
    assert worker.process.poll() is None


def test_an_unreadable_job_fails_with_its_reason_and_the_worker_goes_on(redis_server, start_service):
    r = redis_server.client()
    [broken] = add_jobs(redis_server.url, [("echo", {}, {"attempts": 3})])
    # A buggy producer writing the job hash by hand.
    r.hset(f"bull:{QUEUE}:{broken}", "data", "{not json")

    worker = start_service(redis_server.url)
    job = wait_failed(r, broken)
    assert "field 'data' is not valid job JSON" in job["failedReason"]
    assert job["atm"] == "1", "an unreadable job must not be retried"
    [later] = add_jobs(redis_server.url, [("echo", {}, {})])
    wait_completed(r, later)
    assert find_record(worker, event="job_unreadable", job_id=broken)


def test_the_watchdog_exits_when_the_worker_loop_ends(redis_server, start_service):
    # test-break-worker-loop raises a BaseException, which ends bullmq's run() loop.
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    add_jobs(redis_server.url, [("test-break-worker-loop", {}, {})])
    assert worker.wait(15) == 1
    record = find_record(worker, event="worker_loop_ended")
    assert record, worker.log
    assert "LoopBreakerError" in record["message"]


def test_retry_backoff_is_exponential_with_jitter(redis_server, start_service):
    worker = start_service(redis_server.url, JOB_BACKOFF_JITTER="0.5")
    worker.wait_for_log("worker started")
    r = redis_server.client()
    exponential = {"attempts": 2, "backoff": {"type": "exponential", "delay": 60_000}}
    jittered = add_jobs(redis_server.url, [("test-fail", {}, exponential)] * 12)
    no_jitter = {"attempts": 2, "backoff": {"type": "exponential", "delay": 60_000, "jitter": 0}}
    [exact] = add_jobs(redis_server.url, [("test-fail", {}, no_jitter)])

    wait_until(lambda: r.zcard(DELAYED) == 13, 15, "13 jobs waiting for their retry")
    delays = [int(job_hash(r, job_id)["delay"]) for job_id in jittered]
    assert all(30_000 <= delay < 60_000 for delay in delays), delays
    assert len(set(delays)) > 1, f"no jitter: {delays}"
    assert job_hash(r, exact)["delay"] == "60000", "a job's own jitter: 0 must be honoured"
