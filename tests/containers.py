"""Podman for the container tests: engine settings, local base images, builds of a generated project.

No container registry is reachable from this machine kind, so nothing is
pulled: Debian base images are made locally with mmdebstrap and cached outside
the repository (``$XDG_CACHE_HOME/bullmq-worker-template/containers``), keyed by
what went into them. The generated Dockerfile takes the base as a build
argument; its default stays the pinned official image.

- trixie (Python 3.13): the image of a project generated for 3.13.
- bookworm (Python 3.11.2, redis-server 7.0.15): the image of a project
  generated for 3.11 (3.11.2 also exercises requirements.txt's
  ``python_full_version < "3.11.3"`` pin), and the stand-in for
  ``redis:7.0.15-bookworm`` in compose.yaml.

Debian has no Python 3.12, so a project generated for 3.12 has no local base:
``base_for`` refuses it rather than test it on another Python.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Measured on this machine kind: crun fails on its cgroup setup, and the
# default nofile limit is above the hard limit, so podman refuses to start.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bullmq-worker-template" / "containers"
BASE_FORMAT = 1  # bump when the recipe below changes in a way the key does not see


@dataclass(frozen=True)
class Base:
    suite: str
    packages: tuple[str, ...]

    @property
    def key(self) -> str:
        recipe = json.dumps([BASE_FORMAT, self.suite, "minbase", sorted(self.packages), platform.machine()])
        return hashlib.sha256(recipe.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"localhost/bullmq-template-base:{self.suite}-{self.key}"


BASES = {
    "3.13": Base("trixie", ("python3", "python3-venv")),
    "3.11": Base("bookworm", ("python3", "python3-venv", "redis-server")),
}
REDIS_BASE = BASES["3.11"]


@dataclass(frozen=True)
class BaseImage:
    tag: str
    python: str  # full version, e.g. 3.13.5
    tini: str  # the Debian version of tini this base's release installs


def unavailable() -> str | None:
    """Why the container tests cannot run here, or None."""
    if sys.platform != "linux":
        return "podman containers need Linux"
    if os.geteuid() != 0:
        return "the container tests run rootful podman, which needs root"
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if not shutil.which(tool)]
    if missing:
        return f"not installed: {', '.join(missing)} (.ci/run installs them with apt-get)"
    return None


def env() -> dict[str, str]:
    conf = CACHE / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        CACHE.mkdir(parents=True, exist_ok=True)
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(*args: str | Path, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", *map(str, args)], env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode:
        raise AssertionError(f"podman {' '.join(map(str, args))}: exit {result.returncode}\n{result.stderr[-4000:]}")
    return result


@contextmanager
def locked(name: str) -> Iterator[None]:
    """One process at a time (pytest-xdist workers, other checkouts' suites) makes a base."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def base_image(base: Base) -> BaseImage:
    """The base in podman's storage: imported from the cached tarball, made with mmdebstrap if none."""
    tarball, facts = CACHE / f"{base.suite}-{base.key}.tar", CACHE / f"{base.suite}-{base.key}.json"
    with locked(f"{base.suite}-{base.key}"):
        if not facts.exists():
            _debootstrap(base, tarball, facts)
        if podman("image", "exists", base.tag, check=False).returncode:
            podman("import", tarball, base.tag, timeout=300)
    return BaseImage(tag=base.tag, **json.loads(facts.read_text()))


def _debootstrap(base: Base, tarball: Path, facts: Path) -> None:
    versions = tarball.with_suffix(".versions")
    # Recorded from inside the new system before apt's lists are cleaned away.
    record = (
        f'chroot "$1" python3 -c "import platform; print(platform.python_version())" > {versions} && '
        f'chroot "$1" apt-cache show --no-all-versions tini | sed -n "s/^Version: //p" >> {versions}'
    )
    command = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(base.packages)}"]
    result = subprocess.run(
        [*command, f"--customize-hook={record}", base.suite, str(tarball)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"mmdebstrap {base.suite}: {result.stderr[-4000:]}"
    python, tini = versions.read_text().split()
    versions.unlink()
    facts.write_text(json.dumps({"python": python, "tini": tini}))


def base_for(project_python: str) -> BaseImage:
    base = BASES.get(project_python)
    assert base, f"no local base image with Python {project_python} (Debian ships 3.11 and 3.13)"
    image = base_image(base)
    assert image.python.startswith(project_python + "."), f"{base.tag} has Python {image.python}"
    return image


def download_wheels(project: Path, python: str) -> Path:
    """The pinned wheels into the build context's wheels/, checked against requirements.txt's hashes.

    Markers are dropped for the download (pip would evaluate them on this
    interpreter, not the image's); pip in the build evaluates them again.
    """
    wheels, pins = project / "wheels", project.parent / f"{project.name}-requirements-no-markers.txt"
    wheels.mkdir(exist_ok=True)
    pins.write_text(re.sub(r" ; [^\\\n]*", "", (project / "requirements.txt").read_text()))
    tags = [f"--platform=manylinux_2_{minor}_{platform.machine()}" for minor in range(17, 37)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes", "--no-deps"]
    command += ["--only-binary=:all:", "--implementation=cp", f"--python-version={python}", *tags]
    result = subprocess.run(
        [*command, "--dest", str(wheels), "-r", str(pins)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return wheels


def build(context: Path, name: str, *build_args: str) -> tuple[str, float]:
    """podman build, offline; returns the image id and the seconds it took.

    The tag is stable per name and never removed: removing an image removes
    the untagged layers under it, which are podman's build cache. Tests run
    the returned id, so another checkout building the same name at the same
    time cannot swap the image under them.
    """
    started = time.monotonic()
    iidfile = context.parent / f"{context.name}.iid"
    podman(
        "build",
        "--pull=never",
        "--format=docker",  # HEALTHCHECK is a Docker-format instruction; OCI images drop it
        *(f"--build-arg={arg}" for arg in build_args),
        f"--tag=localhost/bullmq-template-test/{name}:latest",
        f"--iidfile={iidfile}",
        context,
        timeout=900,
    )
    return iidfile.read_text().strip(), time.monotonic() - started


def build_project(project: Path, base: BaseImage, name: str) -> tuple[str, float]:
    """The generated Dockerfile on a local base, with the pinned wheels from this machine."""
    download_wheels(project, base.python)
    args = (f"BASE_IMAGE={base.tag}", f"TINI_VERSION={base.tini}", "OFFLINE=1")
    return build(project, name, *args)


def unique(prefix: str) -> str:
    """A name no other test run on this machine uses at the same time."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
