"""Generating projects from this template with cookiecutter and with copier."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import copier
import copier.errors
from cookiecutter.main import cookiecutter
from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.plain_text import PlainTextOutput

TEMPLATE = Path(__file__).resolve().parent.parent


def template_module(relative: str):
    """A module of the template (``hooks/answers.py``) imported by its path."""
    path = TEMPLATE / relative
    spec = importlib.util.spec_from_file_location(f"template_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


answers = template_module("hooks/answers.py")
QUESTIONS = answers.QUESTIONS
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


class _WideOutput(PlainTextOutput):
    """Prompt output as plain text, wide enough that a refusal is never cut."""

    def get_size(self) -> Size:
        return Size(rows=50, columns=1000)


def copier_at_prompts(destination: Path, keys: str, until: str, timeout: float = 60) -> str:
    """Run copier's questions as a user at a terminal would, typing ``keys``.

    Once ``until`` appears on the screen (or ``timeout`` passes), press Ctrl-C.
    Returns what the screen showed; copier's interrupt is expected and swallowed.
    """
    screen = io.StringIO()

    def type_keys(pipe) -> None:
        pipe.send_text(keys)
        deadline = time.monotonic() + timeout
        while until not in screen.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        pipe.send_text("\x03")

    with create_pipe_input() as pipe, create_app_session(input=pipe, output=_WideOutput(screen)):
        typist = threading.Thread(target=type_keys, args=(pipe,))
        typist.start()
        try:
            copier.run_copy(str(TEMPLATE), str(destination), unsafe=True, vcs_ref="HEAD")
        except copier.errors.CopierAnswersInterrupt:
            pass
        finally:
            typist.join()
    return screen.getvalue()
