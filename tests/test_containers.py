"""The generated image and compose stack, built and run with podman against a real Redis.

Run alone with ``pytest -m containers``. Skipped, with the reason printed,
only where podman cannot run at all (not Linux, not root, tools missing); in
CI (``CI`` set) that is a failure, since .ci/run installs the tools.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import containers
import pytest
import redis
import yaml
from engines import with_cookiecutter
from options import ALL_ON

REASON = containers.unavailable()
if REASON and os.environ.get("CI"):
    raise RuntimeError(f"container tests cannot run in CI: {REASON}")
pytestmark = [
    pytest.mark.containers,
    pytest.mark.xdist_group("containers"),  # one worker: the images are built once
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

PACKAGE = "order_worker"
SERVICE_USER = "order-worker"
QUEUE = "order-worker"
GRACE = 35  # compose.yaml's stop_grace_period; SHUTDOWN_TIMEOUT is 25
VARIANTS = {
    "all-on": ALL_ON,  # Python 3.13, /livez HEALTHCHECK, encryption
    "no-metrics-3.11": {"use_metrics": False, "python_version": "3.11"},  # preflight HEALTHCHECK
}


@dataclass
class Built:
    project: Path
    image: str
    answers: dict

    @property
    def encrypted(self) -> bool:
        return bool(self.answers.get("use_encryption"))


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="containers-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Images:
    """Each variant generated, given secrets (`make secrets`) and built offline, once, when first asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, Built] = {}

    def __getitem__(self, variant: str) -> Built:
        if variant not in self.built:
            answers = VARIANTS[variant]
            project = with_cookiecutter(answers, self.root / variant)
            make_secrets(project, answers)
            base = containers.base_for(answers.get("python_version", "3.13"))
            image, seconds = containers.build_project(project, base, variant)
            print(f"{variant}: image built in {seconds:.1f} s")
            self.built[variant] = Built(project, image, answers)
        return self.built[variant]


@pytest.fixture(scope="module")
def images(workdir: Path) -> Images:
    return Images(workdir)


def make_secrets(project: Path, answers: dict) -> None:
    """`make secrets` as a team runs it (passwords, users.acl), and a key when encryption is on."""
    result = subprocess.run(["make", "secrets"], cwd=project, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = project / "secrets" / "encryption-keys"
    if answers.get("use_encryption") and not keys.exists():
        keys.write_text(service_cli(project, "keys", "generate", env={}).stdout)
        keys.chmod(0o644)  # as make secrets leaves the passwords: readable by the container's uid


def service_cli(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The generated CLI on this machine (the test environment has every dependency)."""
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, *args],
        env={**os.environ, "PYTHONPATH": str(project / "src"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def service_env(project: Path, port: int, encrypted: bool) -> dict[str, str]:
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "REDIS_USERNAME": SERVICE_USER,
        "REDIS_PASSWORD_FILE": str(project / "secrets" / "redis-service-password"),
    }
    if encrypted:
        env["ENCRYPTION_KEYS_FILE"] = str(project / "secrets" / "encryption-keys")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return result


def admin(project: Path, port: int) -> redis.Redis:
    password = (project / "secrets" / "redis-admin-password").read_text().strip()
    return redis.Redis(port=port, username="admin", password=password, decode_responses=True, socket_timeout=5)


def job(client: redis.Redis, job_id: str) -> dict:
    try:
        return client.hgetall(f"bull:{QUEUE}:{job_id}")
    except redis.ConnectionError:
        return {}


@contextmanager
def host_redis(project: Path, data: Path) -> Iterator[int]:
    """redis-server on this machine with the project's redis.conf and users.acl, on a free loopback port."""
    port = free_port()
    command = ["redis-server", project / "redis.conf", "--port", port, "--dir", data]
    server = subprocess.Popen([*map(str, command), "--aclfile", str(project / "users.acl")], stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: _pings(admin(project, port)), 15, "redis-server")
        yield port
    finally:
        server.terminate()
        server.wait(15)


def _pings(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


# --- the image ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_image_runs_as_uid_10001_read_only_processes_a_job_is_healthy_and_drains_on_stop(images, tmp_path, variant):
    image = images[variant]
    project = image.project
    with host_redis(project, tmp_path) as port:
        run_and_stop(image, port, variant)


def run_and_stop(image: Built, redis_port: int, variant: str) -> None:
    project = image.project
    client = admin(project, redis_port)
    env = service_env(project, redis_port, image.encrypted)
    # Secrets as files, mounted one by one as compose and Kubernetes do.
    files = {key: Path(path) for key, path in env.items() if key.endswith("_FILE")}
    container_env = {**env, **{key: f"/run/secrets/{path.name}" for key, path in files.items()}}
    container_env["HEALTH_PORT"] = str(free_port())  # host network: 8080 may be taken
    name = containers.unique("template-test-worker")
    started = time.monotonic()
    containers.podman(
        "run", "--detach", f"--name={name}", "--network=host",  # Redis and the health port on 127.0.0.1
        "--read-only", "--read-only-tmpfs=false", "--tmpfs=/tmp",  # as compose.yaml and Kubernetes run it
        "--cap-drop=ALL", "--security-opt=no-new-privileges",
        "--health-interval=disable",  # no systemd timers here; the test runs the check itself
        *(f"--volume={path}:/run/secrets/{path.name}:ro" for path in files.values()),
        *(f"--env={key}={value}" for key, value in container_env.items()),
        image.image,
    )  # fmt: skip
    try:
        wait_until(lambda: "worker started" in logs(name), 60, f"worker started:\n{logs(name)}")
        ready = time.monotonic() - started

        worker_pid = wait_until(lambda: children(host_pid(name)), 10, "tini's child")[0]
        assert uid_of(worker_pid) == 10001, "the worker must run as uid 10001"
        write = containers.podman("exec", name, "touch", "/opt/app/probe", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr

        echo = service_cli(project, "enqueue", "echo", '{"from": "the host"}', env=env).stdout.strip()
        done = wait_until(lambda: job(client, echo).get("finishedOn") and job(client, echo), 30, "echo job")
        assert "returnvalue" in done and "failedReason" not in done, done

        health = containers.podman("healthcheck", "run", name, check=False)
        assert health.returncode == 0, f"HEALTHCHECK: {health.stdout}{health.stderr}\n{logs(name)}"

        slow = service_cli(project, "enqueue", "sleep", '{"seconds": 3}', env=env).stdout.strip()
        wait_until(lambda: job(client, slow).get("processedOn"), 30, "the sleep job to start")
        stopping = time.monotonic()
        containers.podman("stop", f"--time={GRACE}", name, timeout=GRACE + 30)
        stop = time.monotonic() - stopping

        assert inspect(name)["ExitCode"] == 0, logs(name)
        assert "worker stopped gracefully" in logs(name)
        finished = job(client, slow)
        assert json.loads(finished.get("returnvalue", "null")) == {"slept": 3}, finished
        assert finished.get("ats") == "1", "started once: finished, not recovered as stalled"
        print(f"{variant}: run to ready {ready:.1f} s, stop with a job in flight {stop:.1f} s")
    finally:
        containers.podman("rm", "--force", "--time=0", name, check=False)


def logs(name: str) -> str:
    result = containers.podman("logs", name, check=False)
    return result.stdout + result.stderr


def inspect(name: str) -> dict:
    return json.loads(containers.podman("inspect", "--format={{json .State}}", name).stdout)


def host_pid(name: str) -> int:
    return inspect(name)["Pid"]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


# --- compose ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_image(workdir: Path) -> str:
    """Stands in for redis:7.0.15-bookworm: Debian 12's redis-server 7.0.15, as user redis, data in /data."""
    base = containers.base_image(containers.REDIS_BASE)
    context = workdir / "redis-image"
    context.mkdir()
    (context / "Containerfile").write_text(
        f"FROM {base.tag}\n"
        "RUN mkdir -p /data /usr/local/etc/redis && chown redis:redis /data\n"
        "USER redis\n"
        "WORKDIR /data\n"
    )
    return containers.build(context, "redis")[0]


def test_compose_stack_processes_jobs_keeps_redis_data_and_drains_the_worker(images, redis_image):
    image = images["all-on"]
    project = image.project
    port = free_port()
    # Only what this machine lacks: local images instead of registry ones, and
    # Redis published on loopback so a job can be enqueued from the host.
    override = {
        "services": {
            "redis": {"image": redis_image, "ports": [f"127.0.0.1:{port}:6379"]},
            "worker": {"image": image.image},
        }
    }
    (project / "compose.test.yaml").write_text(yaml.safe_dump(override))
    name = containers.unique("template-test-compose")

    def compose(*args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "podman_compose", "--project-name", name]
        command += ["--file", "compose.yaml", "--file", "compose.test.yaml", *args]
        result = subprocess.run(
            command, cwd=project, env=containers.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
        assert not check or result.returncode == 0, f"podman-compose {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result

    client = admin(project, port)
    env = service_env(project, port, image.encrypted)
    worker = f"{name}_worker_1"
    try:
        compose("up", "--detach")
        wait_until(lambda: "worker started" in logs(worker), 90, f"the worker in compose:\n{logs(worker)}")
        # From outside the container, as the kubelet and Prometheus reach it: HEALTH_HOST must be 0.0.0.0.
        address = containers.podman(
            "inspect", "--format={{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", worker
        )
        with urllib.request.urlopen(f"http://{address.stdout.strip()}:8080/livez", timeout=10) as response:
            assert response.status == 200
        first = service_cli(project, "enqueue", "echo", '{"n": 1}', env=env).stdout.strip()
        wait_until(lambda: job(client, first).get("finishedOn"), 30, "a job through the compose stack")

        compose("restart", "redis")
        wait_until(lambda: _pings(client), 30, "Redis after its restart")
        assert job(client, first).get("finishedOn"), "the completed job survives a restart of the Redis container"
        second = service_cli(project, "enqueue", "echo", '{"n": 2}', env=env).stdout.strip()
        wait_until(lambda: job(client, second).get("finishedOn"), 60, "a job after Redis restarted")

        # podman-compose's `down` stops every service at once (Docker Compose stops
        # dependents first), so Redis would leave under the draining worker: stop the worker first.
        slow = service_cli(project, "enqueue", "sleep", '{"seconds": 3}', env=env).stdout.strip()
        wait_until(lambda: job(client, slow).get("processedOn"), 30, "the sleep job to start")
        stopping = time.monotonic()
        compose("stop", "worker", timeout=GRACE + 60)
        stop = time.monotonic() - stopping
        assert inspect(worker)["ExitCode"] == 0, logs(worker)
        assert "worker stopped gracefully" in logs(worker)
        finished = job(client, slow)
        assert json.loads(finished.get("returnvalue", "null")) == {"slept": 3}, finished
        assert finished.get("ats") == "1", finished

        compose("down")
        compose("up", "--detach", "--no-deps", "redis")
        wait_until(lambda: _pings(client), 30, "Redis on the kept volume")
        kept = [job(client, job_id).get("finishedOn") for job_id in (first, second, slow)]
        assert all(kept), f"finished jobs lost with the Redis container (finishedOn: {kept})"
        print(f"compose: worker stop with a job in flight {stop:.1f} s")
    finally:
        compose("down", "--volumes", "--timeout=0", check=False)
