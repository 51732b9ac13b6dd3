"""The whole path once: CLI enqueue, a real worker process, a real Redis."""

from __future__ import annotations

import json
import signal

from harness import QUEUE, cli, enqueue_bulk, wait_until


def enqueue(redis_url: str, name: str, data: dict) -> str:
    """Through the ``enqueue`` command, as an operator would."""
    result = cli(redis_url, "enqueue", name, json.dumps(data))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_enqueued_job_is_completed_by_the_worker(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    job_id = enqueue(redis_server.url, "echo", {"hello": "world"})

    r = redis_server.client()
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", job_id) is not None, 10, "job completed")
    assert json.loads(r.hget(f"bull:{QUEUE}:{job_id}", "returnvalue")) == {"echo": {"hello": "world"}}

    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0


def test_unknown_job_name_fails_at_once_and_the_worker_goes_on(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    unknown = enqueue(redis_server.url, "no-such-job", {})
    known = enqueue(redis_server.url, "echo", {})

    r = redis_server.client()
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:failed", unknown) is not None, 10, "unknown job failed")
    job = r.hgetall(f"bull:{QUEUE}:{unknown}")
    assert "no handler for job name 'no-such-job'" in job["failedReason"]
    assert job["atm"] == "1", "an unknown job name must not be retried"
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", known) is not None, 10, "later job completed")


def test_enqueue_refuses_data_that_is_not_a_json_object(redis_server):
    result = cli(redis_server.url, "enqueue", "echo", "[1, 2]")
    assert result.returncode == 2
    assert "job data must be a JSON object" in result.stderr


def test_enqueue_bulk_adds_all_jobs_in_one_round_trip(redis_server, start_service):
    job_ids = enqueue_bulk(redis_server.url, [("echo", {"n": n}, {}) for n in range(5)])
    assert len(set(job_ids)) == 5
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    r = redis_server.client()
    wait_until(lambda: all(r.zscore(f"bull:{QUEUE}:completed", job) is not None for job in job_ids), 10, "5 done")
    assert json.loads(r.hget(f"bull:{QUEUE}:{job_ids[4]}", "returnvalue")) == {"echo": {"n": 4}}
