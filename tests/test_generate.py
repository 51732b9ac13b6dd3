"""Every option set, with both engines: identical trees, clean text, lint, and green tests."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from engines import ANSWERS_FILE, tree, with_cookiecutter, with_copier
from options import OPTION_SETS, SUITE_SETS

# Jinja left unrendered; GitHub Actions' own ${{ ... }} is meant to stay.
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Each option set generated once by each engine: name -> (cookiecutter dir, copier dir)."""
    projects = {}
    for name, answers in OPTION_SETS.items():
        root = tmp_path_factory.mktemp(name)
        projects[name] = (with_cookiecutter(answers, root / "cookiecutter"), with_copier(answers, root / "copier"))
    return projects


def code_hash(project: Path) -> str:
    files = {path: data for path, data in tree(project).items() if path.startswith(("src/", "tests/"))}
    return hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()


@pytest.mark.parametrize("name", OPTION_SETS)
def test_engines_produce_identical_trees(generated, name):
    by_cookiecutter, by_copier = (tree(path) for path in generated[name])
    assert ANSWERS_FILE in by_copier, "copier must record its answers for later updates"
    by_copier.pop(ANSWERS_FILE)
    assert sorted(by_cookiecutter) == sorted(by_copier)
    different = [path for path in by_cookiecutter if by_cookiecutter[path] != by_copier[path]]
    assert not different, f"files differ between engines: {different}"


@pytest.mark.parametrize("name", OPTION_SETS)
def test_no_template_syntax_is_left(generated, name):
    project = generated[name][0]
    leftovers = [
        f"{path}:{number}: {line.strip()}"
        for path, data in tree(project).items()
        for number, line in enumerate(data.decode("utf-8").splitlines(), 1)
        if LEFTOVER.search(line)
    ]
    assert not leftovers, "\n".join(leftovers)


@pytest.mark.parametrize("name", OPTION_SETS)
def test_lint_and_format_pass(generated, name):
    project = generated[name][0]
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", OPTION_SETS)
def test_data_files_parse(generated, name):
    project = generated[name][0]
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix in (".yml", ".yaml"):
            list(yaml.safe_load_all(path.read_text()))


def test_every_option_set_is_covered_by_a_suite_run(generated):
    """Sets outside SUITE_SETS generate the same code as one inside, so their suites are not rerun."""
    tested = {code_hash(generated[name][0]) for name in SUITE_SETS}
    untested = [name for name in OPTION_SETS if code_hash(generated[name][0]) not in tested]
    assert not untested, f"add these to SUITE_SETS; their code differs from every tested set: {untested}"


@pytest.mark.parametrize("name", SUITE_SETS)
def test_generated_test_suite_passes(generated, name):
    project = generated[name][0]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


@pytest.mark.parametrize("name", OPTION_SETS)
def test_no_empty_directories_are_left(generated, name):
    for project in generated[name]:
        empty = [path for path in project.rglob("*") if path.is_dir() and not any(path.iterdir())]
        assert not empty, f"empty directories left: {empty}"
