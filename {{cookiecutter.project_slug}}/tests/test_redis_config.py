"""redis.conf and users.acl as a real redis-server applies them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import redis

from harness import PROJECT, QUEUE, SERVICE_USER, enqueue, wait_until

# What redis.conf promises, as CONFIG GET reports it.
EXPECTED = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "aof-use-rdb-preamble": "yes",
    "no-appendfsync-on-rewrite": "no",
    "auto-aof-rewrite-percentage": "100",
    "auto-aof-rewrite-min-size": str(64 * 1024 * 1024),
    "save": "3600 1 300 100 60 10000",
    "maxmemory": str(512 * 1024 * 1024),
    "maxmemory-policy": "noeviction",
    "protected-mode": "yes",
    "enable-debug-command": "no",
    "enable-module-command": "no",
    "enable-protected-configs": "no",
    "timeout": "0",
}


def test_effective_config_is_what_redis_conf_says(secured_redis):
    admin = secured_redis.client()
    effective = {name: admin.config_get(name)[name] for name in EXPECTED}
    assert effective == EXPECTED


def test_bind_is_loopback_by_default():
    # The tests pass --bind themselves, so read the file's own line.
    lines = (PROJECT / "redis.conf").read_text().splitlines()
    assert "bind 127.0.0.1 -::1" in lines


def test_clients_that_do_not_log_in_can_do_nothing(secured_redis):
    anonymous = redis.Redis(host="127.0.0.1", port=secured_redis.port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()


def test_service_user_is_refused_outside_its_rights(secured_redis):
    service = secured_redis.service_client()
    assert service.set("bull:anything", "1")
    refused = [
        service.flushall,
        lambda: service.config_get("maxmemory-policy"),
        lambda: service.set("other-prefix:key", "1"),
        lambda: service.keys("*"),
        lambda: service.acl_list(),
    ]
    for command in refused:
        with pytest.raises(redis.exceptions.NoPermissionError):
            command()
    assert secured_redis.client().get("bull:anything") == "1", "nothing was flushed"


def test_debug_is_disabled_even_for_the_admin(secured_redis):
    with pytest.raises(redis.ResponseError, match="DEBUG command not allowed"):
        secured_redis.client().execute_command("DEBUG", "SLEEP", "0")


def test_worker_and_producer_work_as_the_service_user(secured_redis, start_service):
    """Enqueue, process, fail and retry with backoff: the bullmq paths a service uses."""
    worker = start_service(secured_redis.url)
    worker.wait_for_log("worker started")
    done = enqueue(secured_redis.url, "echo", {"n": 1})
    failing = enqueue(secured_redis.url, "test-fail", {}, JOB_ATTEMPTS="2", JOB_BACKOFF_MS="10")

    admin = secured_redis.client()
    wait_until(lambda: admin.zscore(f"bull:{QUEUE}:completed", done) is not None, 15, "job completed")
    wait_until(lambda: admin.zscore(f"bull:{QUEUE}:failed", failing) is not None, 15, "job failed twice")
    assert admin.hget(f"bull:{QUEUE}:{failing}", "atm") == "2"
    assert "NOPERM" not in worker.log, worker.log


def test_acl_renderer_refuses_short_passwords(tmp_path):
    result = subprocess.run(
        [sys.executable, str(PROJECT / "scripts" / "render_acl.py"), "--output", str(tmp_path / "users.acl")],
        env={"REDIS_SERVICE_PASSWORD": "short", "REDIS_ADMIN_PASSWORD": "x" * 40, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "REDIS_SERVICE_PASSWORD must be set" in result.stderr
    assert not (tmp_path / "users.acl").exists()


def test_rendered_acl_holds_hashes_not_passwords(secured_redis):
    text = secured_redis.users.path.read_text()
    assert secured_redis.users.service_password not in text
    assert secured_redis.users.admin_password not in text
    assert not re.search(r"@[A-Z0-9_]+@", text), "a placeholder was left unfilled"
    assert f"user {SERVICE_USER} on" in text
