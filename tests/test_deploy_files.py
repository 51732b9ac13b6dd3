"""Deployment files of generated projects, each checked by a real validator.

No Docker engine and no Kubernetes cluster here: hadolint lints the Dockerfile,
compose.yaml is validated against the Compose specification schema, the
manifests against the Kubernetes and KEDA schemas, the workflow against
GitHub's schema, zizmor and actionlint; and the image's exact ENTRYPOINT + CMD
runs locally as a non-root uid against a real redis-server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from engines import with_cookiecutter
from options import ALL_OFF, ALL_ON, OPTION_SETS

BIN = Path(sys.executable).parent
NODE_TOOLS = Path(__file__).resolve().parent / "node"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest we claim and the newest bundled
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
SHUTDOWN_TIMEOUT = 25  # the value compose.yaml and deployment.yaml set
NON_ROOT = "10001"
SHA_PIN = re.compile(r"^\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}\s+# v\d+(\.\d+)*$")

VARIANTS = {
    "defaults": {},
    "all-on": ALL_ON,
    "no-metrics": {"use_metrics": False, "python_version": "3.11"},
    # The image test runs under the system Python 3.11 (the test venv's lives under /root).
    "metrics-3.11": {"python_version": "3.11"},
    "custom-names": OPTION_SETS["custom-names"],
}


def run(*command: str | Path, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        raise RuntimeError(f"{name} is missing: pip install -r requirements-test.txt")
    return str(found)


@pytest.fixture(scope="module")
def projects() -> Iterator[dict[str, Path]]:
    # A world-readable directory: the entrypoint test runs the project as another uid.
    root = Path(tempfile.mkdtemp(prefix="deploy-files-"))
    root.chmod(0o755)
    try:
        variants = {**VARIANTS, "all-off": ALL_OFF}
        yield {name: with_cookiecutter(answers, root / name) for name, answers in variants.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- Dockerfile ------------------------------------------------------------------


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    instructions = [
        tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form (JSON array): {arguments}"
    return value


@pytest.mark.parametrize("name", VARIANTS)
def test_hadolint_passes_without_ignores(projects, name):
    dockerfile = projects[name] / "Dockerfile"
    assert "hadolint ignore" not in dockerfile.read_text()
    result = run(tool("hadolint"), "--no-color", "--failure-threshold", "style", dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VARIANTS)
def test_dockerfile_follows_the_container_rules(projects, name):
    stages = [line for line in (projects[name] / "Dockerfile").read_text().splitlines() if line.startswith("FROM")]
    assert len(stages) == 2, "multi-stage: build and runtime"
    assert all(re.fullmatch(r"FROM python:3\.\d+\.\d+-slim-bookworm( AS build)?", line) for line in stages)
    stage = dict(final_stage(projects[name] / "Dockerfile"))
    assert stage["USER"] == f"{NON_ROOT}:{NON_ROOT}"
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert exec_form(stage["ENTRYPOINT"]) == ["/usr/bin/tini", "--"]
    assert "PYTHONDONTWRITEBYTECODE=1" in stage["ENV"] and "PYTHONUNBUFFERED=1" in stage["ENV"]
    assert "curl" not in stage["HEALTHCHECK"] and "wget" not in stage["HEALTHCHECK"]


@pytest.mark.parametrize("name", VARIANTS)
def test_dockerignore_keeps_secrets_and_clutter_out(projects, name):
    ignored = set((projects[name] / ".dockerignore").read_text().splitlines())
    assert {".git", ".venv", ".env", ".env.*", "secrets", "users.acl", "**/__pycache__"} <= ignored


def test_requirements_pin_what_the_tests_ran_with(projects):
    """requirements.txt (the image's --no-deps install) pins the versions installed here."""
    for line in (projects["all-on"] / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].split(";")[0].strip()
        if not requirement or "python_full_version" in line:
            continue
        name, pinned = requirement.split("==")
        try:
            assert version(name) == pinned, f"{name}: requirements.txt pins {pinned}, tests ran with {version(name)}"
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned in requirements.txt but not installed in the test environment")


# --- the image's command line, run locally as a non-root uid ----------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return result


def image_venv(project: Path) -> Path:
    """What the build stage does: a venv, pinned requirements with --no-deps, the package, pip check.

    The system Python, so that a non-root uid can run it (the test environment's
    interpreter may live in root's home).
    """
    venv = project.parent / "image-venv"  # outside the project, like /opt/venv
    steps = [
        ["/usr/bin/python3", "-m", "venv", venv],
        [venv / "bin/pip", "install", "--quiet", "--no-deps", "-r", "requirements.txt"],
        [venv / "bin/pip", "install", "--quiet", "--no-deps", "."],
        [venv / "bin/pip", "check"],
    ]
    for step in steps:
        result = run(*step, cwd=project)
        assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
    return venv


def image_env(stage: list[tuple[str, str]], venv: Path, **extra: str) -> dict[str, str]:
    """The final stage's ENV, with /opt/venv mapped to the local venv."""
    env = {"PATH": os.environ["PATH"]}
    for word, arguments in stage:
        if word == "ENV":
            for pair in shlex.split(arguments):
                key, value = pair.split("=", 1)
                env[key] = value.replace("$PATH", env["PATH"]).replace("/opt/venv", str(venv))
    return {**env, **extra}


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: run("redis-cli", "-p", str(port), "ping").stdout.strip() == "PONG", 10, "redis-server")
        yield port
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.parametrize("variant", ["no-metrics", "metrics-3.11"])  # HEALTHCHECK: preflight, then /livez
def test_image_command_runs_the_worker_as_non_root_and_stops_on_sigterm(projects, redis_port, tmp_path, variant):
    project = projects[variant]
    package = "order_worker"
    stage = final_stage(project / "Dockerfile")
    settings = dict(stage)
    uid, gid = settings["USER"].split(":")
    venv = image_venv(project)
    env = image_env(stage, venv, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", QUEUE_NAME=f"image-{variant}")
    env["HEALTH_PORT"] = str(_free_port())  # the image's port, 8080, may be taken on a test machine
    command = [*exec_form(settings["ENTRYPOINT"]), *exec_form(settings["CMD"])]
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    log = tmp_path / "container.log"

    with log.open("wb") as output:
        container = subprocess.Popen(
            [*as_user, *command], env=env, cwd=settings["WORKDIR"], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: "worker started" in log.read_text(), 30, f"worker started:\n{log.read_text()}")
        worker = wait_until(lambda: _children(container.pid), 5, "tini's child")[0]
        assert _uid(worker) == uid, "the worker must not run as root"

        job = run(venv / "bin/python", "-m", package, "enqueue", "echo", '{"from": "image"}', env=env)
        assert job.returncode == 0, job.stderr
        completed = f"bull:image-{variant}:{job.stdout.strip()}"
        wait_until(
            lambda: run("redis-cli", "-p", str(redis_port), "hget", completed, "finishedOn").stdout.strip(),
            15,
            "job completed",
        )

        healthcheck = exec_form(settings["HEALTHCHECK"].split(" CMD ", 1)[1])
        health = run(*as_user, *healthcheck, env=env, cwd=settings["WORKDIR"])
        assert health.returncode == 0, f"HEALTHCHECK failed: {health.stdout}{health.stderr}"

        container.send_signal(signal.SIGTERM)  # what `docker stop` sends to PID 1 (tini)
        assert container.wait(30) == 0, log.read_text()
        assert "worker stopped gracefully" in log.read_text()
    finally:
        if container.poll() is None:
            container.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _uid(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1)


# --- compose -----------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_compose_validates_against_the_compose_spec(projects, name):
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", projects[name] / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VARIANTS)
def test_compose_wires_redis_and_worker_safely(projects, name):
    compose = yaml.safe_load((projects[name] / "compose.yaml").read_text())
    redis, worker = compose["services"]["redis"], compose["services"]["worker"]
    command = " ".join(redis["command"])
    assert "/usr/local/etc/redis/redis.conf" in command and "--aclfile" in command
    assert any(volume.startswith("redis-data:") for volume in redis["volumes"]) and "redis-data" in compose["volumes"]
    assert {"./redis.conf:/usr/local/etc/redis/redis.conf:ro", "./users.acl:/usr/local/etc/redis/users.acl:ro"} <= set(
        redis["volumes"]
    )
    assert redis["healthcheck"] and worker["healthcheck"]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert int(worker["environment"]["SHUTDOWN_TIMEOUT"]) == SHUTDOWN_TIMEOUT
    assert int(worker["stop_grace_period"].rstrip("s")) > SHUTDOWN_TIMEOUT
    assert "REDIS_PASSWORD" not in worker["environment"], "the password comes from a secret file"


# --- Kubernetes ----------------------------------------------------------------------


def manifests(project: Path) -> dict[str, dict]:
    folder = project / "deploy" / "kubernetes"
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))}


@pytest.mark.parametrize("name", VARIANTS)
def test_manifests_validate_against_kubernetes_schemas(projects, name):
    files = [
        projects[name] / "deploy" / "kubernetes" / file
        for file, document in manifests(projects[name]).items()
        if document["kind"] not in KEDA_KINDS | {"Kustomization"}
    ]
    assert {path.name for path in files} == {"deployment.yaml", "poddisruptionbudget.yaml", "secret.yaml"}
    for kubernetes in KUBERNETES_VERSIONS:
        result = run(tool("kubernetes-validate"), "--strict", "-k", kubernetes, *files)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", VARIANTS)
def test_keda_objects_validate_against_the_keda_crd_schemas(projects, name):
    objects = [document for document in manifests(projects[name]).values() if document["kind"] in KEDA_KINDS]
    assert {document["kind"] for document in objects} == KEDA_KINDS
    result = run("node", NODE_TOOLS / "validate.mjs", "keda", input=json.dumps(objects))
    assert result.returncode == 0, result.stdout + result.stderr


def test_keda_validator_rejects_a_broken_scaled_object(projects):
    """The KEDA check can fail: a wrong type and a missing target are reported."""
    broken = manifests(projects["defaults"])["scaledobject.yaml"]
    broken["spec"]["minReplicaCount"] = "one"
    del broken["spec"]["scaleTargetRef"]
    result = run("node", NODE_TOOLS / "validate.mjs", "keda", input=json.dumps([broken]))
    assert result.returncode == 1
    assert "minReplicaCount must be integer" in result.stdout and "scaleTargetRef" in result.stdout


@pytest.mark.parametrize("name", VARIANTS)
def test_manifests_keep_the_service_contracts(projects, name):
    answers = {**json.loads((Path(__file__).parent.parent / "cookiecutter.json").read_text()), **VARIANTS[name]}
    docs = manifests(projects[name])
    pod = docs["deployment.yaml"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}

    assert pod["terminationGracePeriodSeconds"] > float(env["SHUTDOWN_TIMEOUT"]) == SHUTDOWN_TIMEOUT
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == int(NON_ROOT)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    if answers["use_metrics"]:
        port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
        assert int(env["HEALTH_PORT"]) == port
        assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    else:
        assert "ports" not in container and "livenessProbe" not in container
        assert container["readinessProbe"]["exec"]["command"][-1] == "preflight"

    scaled = docs["scaledobject.yaml"]["spec"]
    queue = answers["queue_name"] if "queue_name" in VARIANTS[name] else projects[name].name
    assert scaled["triggers"][0]["metadata"]["listName"] == f"bull:{queue}:wait"
    assert 1 <= scaled["minReplicaCount"] < scaled["maxReplicaCount"]
    assert scaled["scaleTargetRef"]["name"] == docs["deployment.yaml"]["metadata"]["name"]

    kustomization = docs["kustomization.yaml"]
    assert set(kustomization["resources"]) == set(docs) - {"kustomization.yaml", "secret.yaml"}
    assert kustomization["images"][0]["name"] == container["image"]


# --- every YAML file, and the CI workflow ------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_yamllint_passes(projects, name):
    result = run(tool("yamllint"), "--strict", ".", cwd=projects[name])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["defaults", "all-on"])
def test_workflow_passes_schema_zizmor_and_actionlint(projects, name):
    workflow = projects[name] / ".github" / "workflows" / "ci.yml"
    checks = [
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", workflow],
        [tool("zizmor"), "--offline", "--no-progress", workflow],
        ["node", NODE_TOOLS / "validate.mjs", "actionlint", workflow],
    ]
    for check in checks:
        result = run(*check)
        assert result.returncode == 0, f"{check[0]}: {result.stdout}{result.stderr}"


def test_workflow_pins_actions_by_commit_and_reads_only(projects):
    text = (projects["defaults"] / ".github" / "workflows" / "ci.yml").read_text()
    uses = [line for line in text.splitlines() if "uses:" in line]
    assert uses and all(SHA_PIN.match(line) for line in uses), uses
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job.get("permissions", {"contents": "read"}) == {"contents": "read"}


def test_options_off_generate_no_deployment_files(projects):
    project = projects["all-off"]
    for absent in ("Dockerfile", ".dockerignore", "compose.yaml", ".github/workflows/ci.yml"):
        assert not (project / absent).exists(), absent
    kubernetes = project / "deploy" / "kubernetes"
    # Conditional directory names break cookiecutter, so the folder may remain, empty.
    assert not kubernetes.exists() or not any(kubernetes.iterdir())
    assert (project / "redis.conf").exists() and (project / "users.acl.template").exists()


# --- the generated suite as the restricted Redis user ----------------------------------------


def test_generated_suite_passes_as_the_restricted_acl_user(projects):
    """REDIS_TEST_USER=service: every redis_server runs redis.conf + users.acl, workers log in as the service user."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-n", "2"],
        cwd=projects["all-on"],
        env={**os.environ, "REDIS_TEST_USER": "service"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
