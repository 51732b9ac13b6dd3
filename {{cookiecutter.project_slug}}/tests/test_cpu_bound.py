"""CPU-bound handlers run in a process pool, so the event loop keeps renewing job locks."""

from __future__ import annotations

from harness import QUEUE, add_jobs, wait_until

# A lock shorter than the job: only a loop that keeps renewing it keeps the job.
FAST_LOCKS = {"LOCK_DURATION_MS": "1000", "STALLED_INTERVAL_MS": "1000"}
SECONDS = 3


def start_two_workers(redis_server, start_service):
    # Two workers: each one's stalled-job check would take over the other's job.
    workers = [start_service(redis_server.url, **FAST_LOCKS) for _ in range(2)]
    for worker in workers:
        worker.wait_for_log("worker started")
    return workers


def add_spin_job(redis_server, name: str, record) -> str:
    [job_id] = add_jobs(redis_server.url, [(name, {"seconds": SECONDS, "record": str(record)}, {"attempts": 3})])
    return job_id


def finished(r, job_id: str) -> str | None:
    for state in ("completed", "failed"):
        if r.zscore(f"bull:{QUEUE}:{state}", job_id) is not None:
            return state
    return None


def test_cpu_bound_job_longer_than_its_lock_runs_once_and_is_not_stalled(redis_server, start_service, tmp_path):
    workers = start_two_workers(redis_server, start_service)
    record = tmp_path / "runs"
    job_id = add_spin_job(redis_server, "test-spin", record)

    r = redis_server.client()
    wait_until(lambda: finished(r, job_id), 30, "the cpu-bound job to finish")
    job = r.hgetall(f"bull:{QUEUE}:{job_id}")
    assert job.get("stc", "0") == "0", f"the job was marked stalled: {job}"
    assert len(record.read_text().split()) == 1, "the job ran more than once"
    assert finished(r, job_id) == "completed", job
    assert job["atm"] == "1"
    assert not any("job stalled" in worker.log for worker in workers)


def test_without_the_pool_the_same_job_is_marked_stalled(redis_server, start_service, tmp_path):
    """The control: the same computation on the event loop loses its lock, so the test above can fail."""
    workers = start_two_workers(redis_server, start_service)
    record = tmp_path / "runs"
    job_id = add_spin_job(redis_server, "test-spin-on-loop", record)

    r = redis_server.client()
    wait_until(lambda: int(r.hget(f"bull:{QUEUE}:{job_id}", "stc") or 0) >= 1, 30, "the job marked stalled")
    wait_until(lambda: any("job stalled" in worker.log for worker in workers), 10, "a 'job stalled' log line")
