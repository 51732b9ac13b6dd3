"""Shutdown with jobs in flight: SIGTERM, a shutdown past its timeout, a second signal, SIGKILL.

Real worker processes, real signals, a real redis-server. Lock and stalled
intervals are short so that stalled-job recovery (which hands an interrupted
job to another worker) happens within seconds instead of a minute.
"""

from __future__ import annotations

import signal
import time

from harness import QUEUE, add_jobs, find_record, wait_until

ACTIVE, WAIT = f"bull:{QUEUE}:active", f"bull:{QUEUE}:wait"
COMPLETED = f"bull:{QUEUE}:completed"
# Short lock and stalled-check intervals: an interrupted job is recovered in seconds.
FAST_RECOVERY = {"LOCK_DURATION_MS": "1000", "STALLED_INTERVAL_MS": "1000"}


def wait_active(r, job_id: str) -> None:
    wait_until(lambda: job_id in r.lrange(ACTIVE, 0, -1), 15, f"job {job_id} active")


def test_sigterm_lets_the_job_in_flight_finish_and_exits_0(redis_server, start_service):
    worker = start_service(redis_server.url, SHUTDOWN_TIMEOUT="20")
    worker.wait_for_log("worker started")
    r = redis_server.client()
    [job_id] = add_jobs(redis_server.url, [("sleep", {"seconds": 1.5}, {})])
    wait_active(r, job_id)

    worker.signal(signal.SIGTERM)
    worker.wait_for_log("shutdown_draining")
    [later] = add_jobs(redis_server.url, [("echo", {}, {})])
    assert worker.wait(20) == 0

    assert r.zscore(COMPLETED, job_id) is not None, worker.log
    assert r.llen(ACTIVE) == 0
    assert find_record(worker, message="job completed", job_id=job_id)
    assert later in r.lrange(WAIT, 0, -1), "a worker shutting down must not take new jobs"


def test_shutdown_past_its_timeout_force_closes_and_another_worker_finishes_the_job(redis_server, start_service):
    worker = start_service(redis_server.url, SHUTDOWN_TIMEOUT="1", **FAST_RECOVERY)
    worker.wait_for_log("worker started")
    r = redis_server.client()
    [job_id] = add_jobs(redis_server.url, [("test-slow-first-run", {"seconds": 60}, {})])
    wait_active(r, job_id)

    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait(15)
    took = time.monotonic() - sent
    print(f"SIGTERM to exit with SHUTDOWN_TIMEOUT=1: {took:.2f} s")
    assert code != 0
    assert took < 1 + 1, f"shutdown took {took:.2f} s, more than SHUTDOWN_TIMEOUT + 1 s"
    record = find_record(worker, event="shutdown_forced_close")
    assert record, worker.log
    assert record["interrupted_jobs"] == [job_id]
    assert not find_record(worker, message="job completed", job_id=job_id), "a cut-off job must not log completed"
    assert r.zscore(COMPLETED, job_id) is None

    second = start_service(redis_server.url, **FAST_RECOVERY)
    wait_until(lambda: r.zscore(COMPLETED, job_id) is not None, 20, "the interrupted job completed elsewhere")
    # The log line follows the write to Redis.
    wait_until(lambda: find_record(second, message="job completed", job_id=job_id), 5, "the second worker's log")


def test_a_second_signal_forces_the_shutdown_at_once(redis_server, start_service):
    worker = start_service(redis_server.url, SHUTDOWN_TIMEOUT="60")
    worker.wait_for_log("worker started")
    r = redis_server.client()
    [job_id] = add_jobs(redis_server.url, [("test-slow-first-run", {"seconds": 60}, {})])
    wait_active(r, job_id)

    worker.signal(signal.SIGTERM)
    worker.wait_for_log("shutdown_requested")
    sent = time.monotonic()
    worker.signal(signal.SIGINT)
    code = worker.wait(15)
    took = time.monotonic() - sent
    assert code != 0
    assert took < 2, f"a second signal took {took:.2f} s to force the shutdown"
    record = find_record(worker, event="shutdown_forced_close")
    assert record, worker.log
    assert record["interrupted_jobs"] == [job_id]
    assert "second signal" in record["message"]


def test_sigkill_mid_job_loses_nothing(redis_server, start_service):
    worker = start_service(redis_server.url, **FAST_RECOVERY)
    worker.wait_for_log("worker started")
    r = redis_server.client()
    [job_id] = add_jobs(redis_server.url, [("test-slow-first-run", {"seconds": 60}, {})])
    wait_active(r, job_id)

    worker.signal(signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL

    second = start_service(redis_server.url, **FAST_RECOVERY)
    wait_until(lambda: r.zscore(COMPLETED, job_id) is not None, 20, "the killed worker's job completed elsewhere")
    assert find_record(second, event="job_stalled", job_id=job_id)
    assert r.llen(ACTIVE) == 0
