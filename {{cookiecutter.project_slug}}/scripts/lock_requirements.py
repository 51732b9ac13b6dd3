"""Write the sha256 of every file the image may install into requirements.txt.

requirements.txt pins each package the image installs (transitive ones too)
and lists the hashes of its files on PyPI; the Dockerfile installs it with
``pip install --require-hashes``, so a changed or substituted file on the index
or a mirror is refused. Hashes cover the wheels pip picks for CPython 3.11 to
3.13 on Linux x86_64 and arm64 (glibc 2.36, Debian 12, the base image's), so
the image's Python and architecture can change without a new lock.

After changing a pin: ``make lock`` (this script), review the diff, rebuild.
``--check`` changes nothing and exits 1 when a hash is missing or wrong.
Both download the files with ``pip download`` (your pip configuration and
index apply) and hash them here.

Usage: python scripts/lock_requirements.py [--check] [--file requirements.txt]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13")
ARCHITECTURES = ("x86_64", "aarch64")
GLIBC_MINOR = 36  # Debian 12
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]+))?")


class LockError(Exception):
    """requirements.txt or the index cannot give a complete lock."""


@dataclass
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return canonical(self.name)

    def render(self) -> str:
        marker = f" ; {self.marker}" if self.marker else ""
        lines = [f"{self.name}=={self.version}{marker}", *(f"    --hash=sha256:{h}" for h in sorted(self.hashes))]
        return " \\\n".join(lines)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> tuple[list[str], list[Pin]]:
    """The leading comment block and the pins, with the hashes the file lists now."""
    header, pins = [], []
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if not pins and (stripped.startswith("#") or not stripped):
            header.append(line)
        elif match := PIN.match(stripped):
            marker = match["marker"] and match["marker"].strip()
            pins.append(Pin(match["name"], match["version"], marker, set(re.findall(r"sha256:([0-9a-f]{64})", line))))
        elif stripped and not stripped.startswith("#"):
            raise LockError(f"not a `name==version` pin: {stripped}")
    return header, pins


def platform_tags(architecture: str) -> list[str]:
    """Every manylinux tag the image's glibc accepts (pip expands none of them by itself)."""
    return [f"manylinux_2_{minor}_{architecture}" for minor in range(GLIBC_MINOR, 4, -1)] + [
        f"manylinux{legacy}_{architecture}" for legacy in ("2014", "2010", "1")
    ]


def wheel_project(filename: str) -> str:
    return canonical(filename.split("-", 1)[0])


def download_hashes(pins: list[Pin]) -> dict[str, set[str]]:
    """{project: sha256 of every wheel pip picks for each Python and architecture}."""
    with tempfile.TemporaryDirectory() as tmp:
        wanted = Path(tmp) / "pins.txt"
        # Without markers: a pin for some interpreters only (async-timeout) is hashed for all.
        wanted.write_text("".join(f"{pin.name}=={pin.version}\n" for pin in pins))
        targets = [(python, architecture) for python in PYTHONS for architecture in ARCHITECTURES]
        with ThreadPoolExecutor(len(targets)) as pool:
            downloads = pool.map(lambda target: download(wanted, Path(tmp) / "-".join(target), *target), targets)
            found: dict[str, set[str]] = {}
            for wheels in list(downloads):
                for wheel in wheels:
                    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                    found.setdefault(wheel_project(wheel.name), set()).add(digest)
    return found


def download(wanted: Path, dest: Path, python: str, architecture: str) -> list[Path]:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", python, "--implementation", "cp"]
    command += [f"--platform={tag}" for tag in platform_tags(architecture)]
    result = subprocess.run(
        [*command, "--dest", str(dest), "-r", str(wanted)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise LockError(f"pip download for CPython {python} on {architecture} failed:\n{result.stderr}")
    return sorted(dest.iterdir())


def lock(path: Path, *, check: bool) -> int:
    text = path.read_text(encoding="utf-8")
    header, pins = parse(text)
    hashes = download_hashes(pins)
    stale = []
    for pin in pins:
        if pin.hashes != hashes.get(pin.key, set()):
            stale.append(f"{pin.name}=={pin.version}")
        pin.hashes = hashes.get(pin.key, set())
    if check:
        for name in stale:
            print(f"{path.name}: hashes of {name} are missing or wrong; run `make lock`", file=sys.stderr)
        return 1 if stale else 0
    path.write_text("\n".join([*header, *(pin.render() for pin in pins)]) + "\n", encoding="utf-8")
    print(f"{path.name}: {len(pins)} pins, {sum(len(pin.hashes) for pin in pins)} hashes ({len(stale)} changed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a hash is missing or wrong")
    parser.add_argument("--file", type=Path, default=ROOT / "requirements.txt")
    args = parser.parse_args(argv)
    try:
        return lock(args.file, check=args.check)
    except (LockError, OSError) as error:
        print(f"lock_requirements: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
