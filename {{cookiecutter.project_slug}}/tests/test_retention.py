"""Retention: the completed and failed sets stay within KEEP_* however jobs were added.

Jobs from this service's producer carry retention options; jobs added
without options (another service, a Node producer, a script) get the
worker-level defaults. Both must stay bounded, or Redis fills up.
"""

from __future__ import annotations

from harness import QUEUE, ServiceProcess, add_jobs, enqueue, log_records, wait_until

KEEP = {"KEEP_COMPLETED_COUNT": "5", "KEEP_COMPLETED_AGE": "3600", "KEEP_FAILED_COUNT": "3"}
EACH = 30


def finished(worker: ServiceProcess) -> tuple[int, int]:
    records = log_records(worker)
    completed = sum(1 for r in records if r["message"] == "job completed")
    failed = sum(1 for r in records if r["message"].startswith("job failed"))
    return completed, failed


def assert_within_bounds(r) -> None:
    assert r.zcard(f"bull:{QUEUE}:completed") == 5
    assert r.zcard(f"bull:{QUEUE}:failed") == 3
    job_hashes = [key for key in r.scan_iter(f"bull:{QUEUE}:*") if key.rsplit(":", 1)[1].isdigit()]
    assert len(job_hashes) == 5 + 3, "removed jobs must not leave their hashes behind"


def enqueue_with_the_service_producer(redis_url: str) -> None:
    for i in range(EACH):
        for name in ("echo", "test-fail"):
            enqueue(redis_url, name, {"i": i}, JOB_ATTEMPTS="1", **KEEP)


def test_finished_jobs_stay_within_the_configured_bounds(redis_server, start_service):
    worker = start_service(redis_server.url, **KEEP)
    worker.wait_for_log("worker started")
    r = redis_server.client()

    enqueue_with_the_service_producer(redis_server.url)
    wait_until(lambda: finished(worker) == (EACH, EACH), 60, "the producer's jobs finished")
    assert_within_bounds(r)

    # No options at all: only the worker-level removeOnComplete/removeOnFail apply.
    add_jobs(redis_server.url, [("echo", {}, {}), ("test-fail", {}, {})] * EACH)
    wait_until(lambda: finished(worker) == (2 * EACH, 2 * EACH), 60, "the option-less jobs finished")
    assert_within_bounds(r)
