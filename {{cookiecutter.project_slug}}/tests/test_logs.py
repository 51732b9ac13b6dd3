"""Logs: every line inside a job carries the job, whoever logs it, in JSON and in console form."""

from __future__ import annotations

import json

from harness import QUEUE, add_jobs, wait_until


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_line_inside_a_job_carries_the_job(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    [job_id] = add_jobs(redis_server.url, [("test-log", {"fail_first": True}, {"attempts": 2})])
    r = redis_server.client()
    wait_until(lambda: r.zscore(f"bull:{QUEUE}:completed", job_id) is not None, 15, "job completed")
    wait_until(lambda: "job completed" in worker.log, 5, "completed line")
    lines = json_lines(worker.log)

    own = [line for line in lines if line["message"] == "handler line"]
    assert [(line["job_id"], line["attempt"]) for line in own] == [(job_id, 1), (job_id, 2)]
    library = next(line for line in lines if line["logger"] == "bullmq.test")
    warning = next(line for line in lines if line["logger"] == "py.warnings")
    assert "warning line" in warning["message"]
    for line in [*own, library, warning]:
        assert line["queue"] == QUEUE
        assert line["job_id"] == job_id
        assert line["job_name"] == "test-log"
        assert line["duration"] >= 0
    completed = next(line for line in lines if line["message"] == "job completed")
    assert (completed["queue"], completed["job_id"]) == (QUEUE, job_id)
    assert completed["duration"] >= 0

    started = next(line for line in lines if line["message"] == "worker started")
    assert "job_id" not in started, "lines outside a job carry no job"


def test_console_format_is_readable_and_keeps_the_fields(redis_server, start_service):
    worker = start_service(redis_server.url, LOG_FORMAT="console")
    worker.wait_for_log("worker started")
    [job_id] = add_jobs(redis_server.url, [("test-log", {}, {})])
    worker.wait_for_log("job completed")
    line = next(line for line in worker.log.splitlines() if "handler line" in line)
    assert not line.startswith("{")
    assert " INFO " in line
    for field in (f"queue={QUEUE}", f"job_id={job_id}", "job_name=test-log", "attempt=1", "duration="):
        assert field in line
