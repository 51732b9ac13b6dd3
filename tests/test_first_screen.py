"""The README's first screen works as written, and both engines end with the same next steps."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engines import TEMPLATE, cli, template_repo

README = (TEMPLATE / "README.md").read_text()


def first_screen() -> list[str]:
    """The commands of the README's first code block, comments removed."""
    block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert block, "README.md starts with no ```sh block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def fresh_checkout(destination: Path) -> Path:
    """The template's files as a clone has them: nothing installed, nothing built."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = TEMPLATE / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def without_engines(path: str) -> str:
    """``path`` less every directory that holds cookiecutter or copier."""
    keep = [
        entry
        for entry in path.split(os.pathsep)
        if not any(shutil.which(tool, path=entry) for tool in ("cookiecutter", "copier"))
    ]
    return os.pathsep.join(keep)


def test_the_first_screen_is_two_commands_generate_then_test():
    commands = first_screen()
    assert commands == ["make generate", "make test"], commands
    assert (TEMPLATE / ".ci" / "run").read_text().rstrip().endswith("make test"), (
        "CI must run the README's test command"
    )


@pytest.mark.fresh_machine
def test_the_generate_command_works_on_a_machine_without_the_engines(tmp_path, capsys):
    checkout = fresh_checkout(tmp_path / "template")
    environment = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment["PATH"] = without_engines(environment["PATH"])
    assert shutil.which("cookiecutter", path=environment["PATH"]) is None
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", first_screen()[0]],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    with capsys.disabled():
        print(f"\n`{first_screen()[0]}` in a fresh checkout took {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    project = checkout / "build" / "order-worker"
    assert (project / "pyproject.toml").is_file()
    assert f"Generated Order Worker in {project}. Next:" in result.stdout


def test_the_readme_copier_command_works_without_a_terminal(tmp_path):
    (command,) = [
        line.split("  #")[0].strip() for line in README.splitlines() if "copier copy" in line and "--defaults" in line
    ]
    checkout = template_repo(tmp_path / "template", "v0.0.1")
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)  # as `make generate` leaves it
    result = subprocess.run(
        ["bash", "-c", command], cwd=checkout, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "billing-events" / "src" / "billing_events" / "worker.py").is_file()


def next_steps(output: str, project: Path) -> str:
    start = output.index("Generated ")
    return output[start:].replace(str(project), "<project>").strip()


def test_both_engines_print_the_same_next_three_steps(tmp_path):
    by_cookiecutter = cli("cookiecutter", {}, tmp_path / "cookiecutter")
    by_copier = cli("copier", {}, tmp_path / "copier")
    assert by_cookiecutter.returncode == 0 and by_copier.returncode == 0, by_cookiecutter.stderr + by_copier.stderr
    steps = next_steps(by_cookiecutter.stdout, tmp_path / "cookiecutter" / "order-worker")
    assert steps == next_steps(by_copier.stderr, tmp_path / "copier")
    numbered = [line.strip() for line in steps.splitlines() if re.match(r"\s+\d\. ", line)]
    assert [line[:2] for line in numbered] == ["1.", "2.", "3."]
    assert "make test" in numbered[1] and "make run" in numbered[2]
