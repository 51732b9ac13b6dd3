"""Generating projects from this template with cookiecutter and with copier."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import copier
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
QUESTIONS = {
    key: value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
}
ANSWERS_FILE = ".copier-answers.yml"


def with_cookiecutter(answers: dict, output_dir: Path) -> Path:
    """Generate with cookiecutter's Python API; returns the project directory."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)))


def with_copier(answers: dict, destination: Path, template: Path = TEMPLATE, ref: str = "HEAD") -> Path:
    """Generate with copier's Python API (tasks need ``unsafe``, the API's ``--trust``)."""
    copier.run_copy(
        str(template),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=True,
        vcs_ref=ref,
        quiet=True,
    )
    return destination


def cli(engine: str, answers: dict, destination: Path) -> subprocess.CompletedProcess:
    """Generate through an engine's command line, as a user would; output captured."""
    if engine == "cookiecutter":
        pairs = [f"{key}={_cli_value(value)}" for key, value in answers.items()]
        command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(destination), str(TEMPLATE), *pairs]
    else:
        pairs = [arg for key, value in answers.items() for arg in ("-d", f"{key}={_cli_value(value)}")]
        command = [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            *pairs,
            str(TEMPLATE),
            str(destination),
        ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _cli_value(value: object) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".ruff_cache" not in path.parts and "__pycache__" not in path.parts
    }


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity; returns stdout."""
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout


def template_repo(destination: Path, tag: str) -> Path:
    """A git copy of this template's working tree, committed and tagged ``tag``."""
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".pytest_cache", ".ruff_cache")
    shutil.copytree(TEMPLATE, destination, ignore=ignore)
    git(destination, "init", "-q", "-b", "main")
    release(destination, tag)
    return destination


def release(template: Path, tag: str) -> None:
    """Commit everything in ``template`` and tag it."""
    git(template, "add", "-A")
    git(template, "commit", "-q", "--allow-empty", "-m", f"release {tag}")
    git(template, "tag", tag)


def with_cruft(answers: dict, output_dir: Path, template: Path, checkout: str) -> Path:
    """Generate with ``cruft create`` from a git template at ``checkout``; returns the project directory."""
    import cruft

    return Path(cruft.create(str(template), output_dir=output_dir, checkout=checkout, extra_context=answers))


def commit_all(project: Path, message: str) -> None:
    """Commit everything in ``project``, making it a git repository first if need be."""
    if not (project / ".git").exists():
        git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
