"""The two connection factories: their rules, warnings on overrides, credentials, TLS and client names."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff

import harness
from {{ cookiecutter.package_name }}.connections import (
    BULLMQ_MAX_BLOCK,
    FOREVER,
    GuideBackoff,
    producer_connection,
    worker_connection,
)
from {{ cookiecutter.package_name }}.settings import SERVICE_NAME, Settings, SettingsError
from {{ cookiecutter.package_name }}.worker import build_worker

USER, PASSWORD = "svc-tests", "placeholder-not-a-secret"
SETTINGS = Settings({% if cookiecutter.use_encryption %}encryption_keys=harness.SESSION_KEY{% endif %})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


# The rules, on real (unconnected) harness.


def test_worker_backoff_is_the_guides_retry_strategy():
    # BullMQ: Math.max(Math.min(Math.exp(times), 20000), 1000) milliseconds.
    waits = [round(GuideBackoff().compute(times), 3) for times in range(1, 12)]
    assert waits == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.097, 2.981, 8.103, 20.0, 20.0]
    assert GuideBackoff().compute(100_000) == 20.0  # days of outage: no OverflowError


def test_default_clients_follow_the_rules(caplog):
    worker, producer = worker_connection(SETTINGS), producer_connection(SETTINGS)
    for client in (worker, producer):
        assert client.connection_pool.connection_kwargs["decode_responses"] is True
        assert client.connection_pool.connection_kwargs["socket_keepalive"] is True
    assert worker.get_retry().get_retries() == FOREVER
    assert worker.connection_pool.connection_kwargs["socket_timeout"] > BULLMQ_MAX_BLOCK
    assert producer.get_retry().get_retries() == 0
    assert producer.connection_pool.connection_kwargs["socket_timeout"] == SETTINGS.producer_timeout
    assert warnings_of(caplog) == []


def test_a_worker_retry_that_gives_up_is_warned_about(caplog):
    worker_connection(SETTINGS, retry=Retry(ExponentialBackoff(), 3))
    [warning] = warnings_of(caplog)
    assert "worker connection retry gives up after 3 retries; workers must retry for ever" in warning


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        (Retry(NoBackoff(), FOREVER), "producer connection retries for ever; enqueue will block its caller"),
        # bullmq's own client policy: Queue.add blocks for about 350 s.
        (Retry(ExponentialBackoff(cap=20, base=1), 20), "producer connection retry waits about 350s in total"),
    ],
)
def test_a_blocking_producer_retry_is_warned_about(caplog, retry, message):
    producer_connection(SETTINGS, retry=retry)
    [warning] = warnings_of(caplog)
    assert message in warning


def test_a_short_producer_retry_is_fine(caplog):
    producer_connection(SETTINGS, retry=Retry(NoBackoff(), 1))
    assert warnings_of(caplog) == []


def test_clients_built_elsewhere_are_vetted(caplog):
    build_worker(SETTINGS, connection=redis.asyncio.Redis(decode_responses=True, socket_timeout=5))
    assert any("worker connection retry gives up after" in text for text in warnings_of(caplog))
    assert any("socket_timeout=5s is not above bullmq's 10s blocking wait" in text for text in warnings_of(caplog))
    caplog.clear()
    endless = Retry(NoBackoff(), FOREVER)
    harness.Producer(SETTINGS, connection=redis.asyncio.Redis(decode_responses=True, retry=endless, socket_timeout=1))
    assert any("producer connection retries for ever" in text for text in warnings_of(caplog))
    with pytest.raises(ValueError, match="decode_responses=True"):
        harness.Producer(SETTINGS, connection=redis.asyncio.Redis())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_URL": "redis://:pw@host/0", "REDIS_PASSWORD": "pw"}, "password is set twice"),
        ({"REDIS_URL": "redis://u:pw@host/0", "REDIS_USERNAME": "u"}, "username is set twice"),
        ({"REDIS_URL": "redis://host/0", "REDIS_TLS_CA_FILE": "/ca.pem"}, "REDIS_URL does not start with rediss://"),
    ],
)
def test_contradicting_connection_settings_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


# Against real servers.


def observer(server: harness.RedisServer) -> redis.Redis:
    """The test's one client; the server's other connections (the harness's) are closed first."""
    client = server.client()
    client.client_kill_filter(_type="normal", skipme=True)
    return client


def service_clients(client: redis.Redis) -> list[dict]:
    """CLIENT LIST without the test's own connection, once no connection is still in its handshake.

    redis-py names a connection in its handshake, after HELLO or AUTH; a new
    connection's last command is one of those (or none) until then.
    """
    own = client.client_id()

    def settled() -> list[dict] | None:
        entries = [entry for entry in client.client_list() if int(entry["id"]) != own]
        return None if any(entry["cmd"] in ("NULL", "hello", "auth") for entry in entries) else entries

    return harness.wait_until(settled, 5, "every connection past its handshake")


def assert_named_by_service_and_role(entries: list[dict]) -> None:
    assert entries
    for entry in entries:
        # bullmq renames its worker connections "<prefix>:<queue>:w:<worker name>"; Queue.getWorkers needs that.
        roles = (f"{SERVICE_NAME}:worker:", f"{SERVICE_NAME}:producer:", f":w:{SERVICE_NAME}:")
        assert any(role in entry["name"] for role in roles), [(entry["name"], entry["cmd"]) for entry in entries]


def test_connections_are_named_by_service_and_role(redis_server, start_service):
    client = observer(redis_server)
    worker = start_service(redis_server.url)
    worker.wait_for_log("worker started")

    async def add_and_look() -> list[dict]:
        async with harness.Producer(harness.settings_for(redis_server.url)) as producer:
            await producer.enqueue("echo", {})
            return service_clients(client)

    entries = asyncio.run(add_and_look())
    assert_named_by_service_and_role(entries)
    assert any(f"{SERVICE_NAME}:producer:" in entry["name"] for entry in entries)
    assert any(f":w:{SERVICE_NAME}:" in entry["name"] for entry in entries)


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[harness.RedisServer]:
    user = ("--user", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all")
    server = harness.RedisServer(tmp_path / "acl-redis", args=user).start()
    yield server
    server.stop()


def run_worker_as(server: harness.RedisServer, start_service, **env: str) -> None:
    client = observer(server)
    worker = start_service(env.pop("REDIS_URL", server.url), **env)
    worker.wait_for_log("worker started")
    url = f"redis://{USER}:{PASSWORD}@127.0.0.1:{server.port}/0"
    harness.wait_completed(client, harness.enqueue(url), 10)
    entries = service_clients(client)
    assert_named_by_service_and_role(entries)
    assert {entry["user"] for entry in entries} == {USER}


def test_acl_credentials_from_the_url(acl_redis, start_service):
    run_worker_as(acl_redis, start_service, REDIS_URL=f"redis://{USER}:{PASSWORD}@127.0.0.1:{acl_redis.port}/0")


def test_acl_credentials_from_variables_and_secret_files(acl_redis, start_service, tmp_path):
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD + "\n")
    run_worker_as(acl_redis, start_service, REDIS_USERNAME=USER, REDIS_PASSWORD_FILE=str(secret))


def test_a_password_with_url_delimiters_works_percent_encoded(tmp_path):
    """REDIS_URL's password is percent-decoded (redis-py's from_url), as the settings' refusal message says."""
    password = "pa/ss#wo?rd%-placeholder"  # noqa: S105  (a test placeholder)
    user = ("--user", USER, "on", f">{password}", "~*", "&*", "+@all")
    server = harness.RedisServer(tmp_path / "delimiters-redis", args=user).start()
    try:
        job_id = harness.enqueue(f"redis://{USER}:{quote(password, safe='')}@127.0.0.1:{server.port}/0")
        assert harness.job_hash(server.client(), job_id)["name"] == "echo"
    finally:
        server.stop()


def test_wrong_credentials_fail_with_the_servers_reason(acl_redis):
    with pytest.raises(harness.EnqueueError, match="invalid username-password pair"):
        harness.enqueue(acl_redis.url, REDIS_USERNAME=USER, REDIS_PASSWORD="wrong")  # noqa: S106  (not a secret)


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 that is its own CA, made by the openssl command."""
    cert, key = directory / "redis.crt", directory / "redis.key"
    request = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    files = ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
    extensions = ["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"]
    subprocess.run([*request, *files, *extensions], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[harness.RedisServer, str, Path]]:
    """A server with a TLS port (for the service) and a plain one (for the test's own checks)."""
    cert, key = write_self_signed_certificate(tmp_path)
    tls_port = harness.free_port()
    tls = ("--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key))
    tls += ("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")
    server = harness.RedisServer(tmp_path / "tls-redis", args=tls).start()
    yield server, f"rediss://127.0.0.1:{tls_port}/0", cert
    server.stop()


def test_tls_with_a_private_ca(tls_redis, start_service):
    server, url, ca = tls_redis
    client = observer(server)
    worker = start_service(url, REDIS_TLS_CA_FILE=str(ca))
    worker.wait_for_log("worker started")
    harness.wait_completed(client, harness.enqueue(url, REDIS_TLS_CA_FILE=str(ca)), 10)
    tls_port = url.rsplit(":", 1)[1].split("/")[0]
    over_tls = [entry for entry in service_clients(client) if entry["laddr"].endswith(f":{tls_port}")]
    assert any(f":w:{SERVICE_NAME}:" in entry["name"] for entry in over_tls)


def test_tls_refuses_a_server_it_cannot_verify(tls_redis):
    _server, url, _ca = tls_redis
    with pytest.raises(harness.EnqueueError, match="CERTIFICATE_VERIFY_FAILED"):
        harness.enqueue(url)
