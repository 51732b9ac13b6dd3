"""Redis outages against real processes: workers wait and resume, producers fail fast.

Each test kills, restarts or freezes a real redis-server under a real worker
process. Three facts of bullmq 3.4.4 with redis-py 8 are defended here: an
idle worker whose socket timeout (redis-py's 5 s) is below bullmq's blocking
wait reconnects constantly and picks jobs up late; bullmq's own producer
client retries for about 350 s before an add fails; and connection errors
during an outage are retried silently, without any "error" event.
"""

from __future__ import annotations

import time

import pytest

from harness import (
    QUEUE,
    EnqueueError,
    RedisServer,
    cli,
    connections_received,
    enqueue,
    events,
    free_port,
    wait_completed,
    wait_until,
)

IDLE = 20.0  # an idle worker blocks in BZPOPMIN for 5 s at a time: four rounds at least


def test_worker_waits_for_redis_at_start_up_and_works_within_2s_of_it(tmp_path, start_service):
    server = RedisServer(tmp_path / "late-redis")  # its port is chosen; it is not running yet
    worker = start_service(server.url)
    wait_until(lambda: events(worker.log, "redis_down"), 10, "the redis_down line")
    # Watch the waiting worker for a few retries: it must stay the same quiet process.
    time.sleep(3)
    assert worker.process.poll() is None, f"the worker exited while redis was down:\n{worker.log}"
    assert len(events(worker.log, "redis_down")) == 1
    after_down = worker.log.split('"redis_down"', 1)[1].splitlines()[1:]
    assert after_down == [], f"the waiting worker logs on every retry:\n{worker.log}"

    server.start()
    try:
        up = time.monotonic()
        job_id = enqueue(server.url)
        wait_completed(server.client(), job_id, 10)
        assert time.monotonic() - up <= 2.0, f"job completed {time.monotonic() - up:.1f}s after redis came up"
        assert len(events(worker.log, "redis_up")) == 1
    finally:
        server.stop()


# The guide's backoff stays at 1 s for about seven seconds, then reaches 20 s
# after about 18 s of outage: after 30 s, allow one full step.
@pytest.mark.parametrize(("outage", "resume"), [(5, 3.0), pytest.param(30, 25.0, marks=pytest.mark.slow)])
def test_worker_resumes_after_redis_is_killed(outage, resume, redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    wait_completed(redis_server.client(), enqueue(redis_server.url), 10)

    redis_server.kill()
    down = time.monotonic()
    wait_until(lambda: events(worker.log, "redis_down"), 10, "the redis_down line")
    time.sleep(max(0.0, outage - (time.monotonic() - down)))
    redis_server.start()
    up = time.monotonic()

    first, second = enqueue(redis_server.url), enqueue(redis_server.url)
    client = redis_server.client()
    wait_completed(client, first, 30)
    wait_completed(client, second, 5)
    assert time.monotonic() - up <= resume, f"jobs completed {time.monotonic() - up:.1f}s after redis came back"
    assert worker.process.poll() is None
    assert len(events(worker.log, "redis_down")) == 1, worker.log
    assert len(events(worker.log, "redis_up")) == 1, worker.log


def test_producer_api_fails_fast_when_redis_is_down():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(EnqueueError, match=rf"could not add job 'echo' to queue '{QUEUE}' at {url}: ConnectionError"):
        enqueue(url)
    assert time.monotonic() - started < 1.5


def test_producer_cli_fails_fast_when_redis_is_down():
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    baseline = cli(url, "--help")  # interpreter start and imports, to subtract
    startup = time.monotonic() - started
    started = time.monotonic()
    result = cli(url, "enqueue", "echo", "{}")
    elapsed = time.monotonic() - started - startup
    assert baseline.returncode == 0
    assert result.returncode == 1
    assert f"error: could not add job 'echo' to queue '{QUEUE}' at {url}: ConnectionError" in result.stderr
    assert elapsed < 1.5, f"enqueue took {elapsed:.1f}s beyond start-up"


def test_producer_fails_within_its_timeout_when_redis_stops_answering(redis_server):
    with redis_server.paused():
        started = time.monotonic()
        with pytest.raises(EnqueueError, match=r"TimeoutError.*no answer within PRODUCER_TIMEOUT=1s"):
            enqueue(redis_server.url, PRODUCER_TIMEOUT="1")
        assert time.monotonic() - started < 1 + 1.0


def test_idle_worker_keeps_its_connections_and_picks_up_a_job_at_once(redis_server, start_service):
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")
    client = redis_server.client()
    wait_completed(client, enqueue(redis_server.url), 10)  # the pool has all it needs now

    before = connections_received(client)
    time.sleep(IDLE)
    # redis-py's default 5 s socket timeout ends each 5 s BZPOPMIN with a reconnect.
    assert connections_received(client) == before, "the idle worker reconnected"

    done = wait_completed(client, enqueue(redis_server.url), 10)
    latency = (int(done["processedOn"]) - int(done["timestamp"])) / 1000
    assert latency <= 0.5, f"the idle worker took {latency:.2f}s to start the job"
    assert not events(worker.log, "redis_down")
