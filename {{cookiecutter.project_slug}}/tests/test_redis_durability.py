"""Acknowledged jobs survive a Redis crash: AOF with fsync every second."""

from __future__ import annotations

import time

from harness import QUEUE, RedisServer, enqueue, wait_until

JOBS = 50
# appendfsync everysec promises at most one second of writes lost; wait past
# that bound before the crash (this is the contract under test, not a hope).
FSYNC_BOUND = 1.5


def add_jobs(redis_url: str) -> list[str]:
    """One at a time: each id is returned once Redis acknowledged its job."""
    return [enqueue(redis_url, "echo", {"n": n}) for n in range(JOBS)]


def test_acknowledged_jobs_survive_kill_9_and_are_processed(tmp_path, start_service):
    server = RedisServer.secured(tmp_path / "redis").start()
    try:
        acknowledged = add_jobs(server.url)
        assert len(set(acknowledged)) == JOBS
        time.sleep(FSYNC_BOUND)
        server.kill()  # SIGKILL: no shutdown save, the AOF is all there is

        server.start()  # same port, same --dir, same redis.conf and users.acl
        admin = server.client()
        waiting = set(admin.lrange(f"bull:{QUEUE}:wait", 0, -1))
        assert waiting == set(acknowledged), f"lost after the crash: {sorted(set(acknowledged) - waiting)}"

        worker = start_service(server.url)
        worker.wait_for_log("worker started")
        completed = f"bull:{QUEUE}:completed"
        wait_until(lambda: admin.zcard(completed) == JOBS, 30, f"{JOBS} restored jobs completed")
        assert set(admin.zrange(completed, 0, -1)) == set(acknowledged)
    finally:
        server.stop()
