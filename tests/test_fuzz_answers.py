"""Fuzzing the questions: no answer set produces a broken project or a crash.

Hypothesis draws answers across every question, hostile text included
(quotes, backslashes, newlines, Jinja delimiters, unicode, very long strings).
For each answer set, with both engines: either generation is refused with the
rule's sentence, or the project is generated, the engines agree, ruff passes,
the package imports and its TOML/YAML/JSON files parse.

CI runs a fixed, derandomized sample. A larger run:
    FUZZ_EXAMPLES=300 FUZZ_RANDOM=1 .venv/bin/python -m pytest tests/test_fuzz_answers.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from engines import ANSWERS_FILE, QUESTIONS, cli, tree
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
DERANDOMIZE = not os.environ.get("FUZZ_RANDOM")

HOSTILE = st.sampled_from(['"', "'", "\\", "\n", "\t", "{{", "}}", "{%", "{#", "$(", "`", "<", ">", ":", "{", "}"])
# NUL cannot travel in a command-line argument, so neither engine can be given it.
CHARS = st.characters(exclude_characters="\x00")
TEXT = st.one_of(
    st.text(CHARS, min_size=1, max_size=40),
    st.lists(st.one_of(HOSTILE, st.text(CHARS, max_size=6)), min_size=1, max_size=8).map("".join),
    st.text(alphabet="aé注 ", min_size=190, max_size=260),
)
SLUG = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)
# Names too long for a file name (over 255 bytes in UTF-8) though every
# character is a valid identifier character, and ASCII names just over the limit.
TOO_LONG = st.one_of(
    st.text(alphabet="注文字", min_size=86, max_size=120),
    st.text(alphabet="abcxyz", min_size=51, max_size=300),
)
NAME = st.one_of(SLUG, TOO_LONG, TEXT)
COUNT = st.one_of(st.integers(-5, 2_000_000).map(str), TEXT)


@st.composite
def answer_sets(draw) -> dict:
    answers = {
        "project_name": draw(st.one_of(TEXT, st.just("Fuzz Worker"))),
        "project_slug": draw(NAME),
        "description": draw(TEXT),
        "author_name": draw(TEXT),
        "author_email": draw(st.one_of(st.emails(), TEXT)),
        "queue_name": draw(st.one_of(SLUG, TEXT)),
        "worker_concurrency": draw(COUNT),
        "keep_completed_count": draw(COUNT),
        "keep_completed_age_seconds": draw(COUNT),
        "keep_failed_count": draw(COUNT),
        "python_version": draw(st.sampled_from(["3.11", "3.12", "3.13"])),
        "license": draw(st.sampled_from(["MIT", "Apache-2.0", "Proprietary"])),
    }
    answers |= {flag: draw(st.booleans()) for flag in QUESTIONS if flag.startswith("use_")}
    if draw(st.booleans()):
        answers["package_name"] = draw(st.one_of(SLUG.map(lambda slug: slug.replace("-", "_")), TOO_LONG, TEXT))
    return answers


def refused_cleanly(engine: str, answers: dict, result: subprocess.CompletedProcess) -> bool:
    output = result.stdout + result.stderr
    if "ERROR: " in output and "Nothing was generated" in output and "Traceback" not in output:
        return True
    # Cookiecutter renders every answer as Jinja before the rules see it: it
    # stops on Jinja in an answer by itself (a known engine limit, see README).
    jinja_in_answers = any(mark in json.dumps(answers) for mark in ("{{", "{%", "{#"))
    return (
        engine == "cookiecutter"
        and jinja_in_answers
        and ("Unable to render variable" in output or "jinja2.exceptions.TemplateSyntaxError" in output)
    )


def check_project(project: Path) -> None:
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "-q", "."], cwd=project, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    package = next((project / "src").iterdir()).name
    imported = subprocess.run(
        [sys.executable, "-c", f"import {package}.__main__, {package}.worker, {package}.producer"],
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix in (".yml", ".yaml"):
            list(yaml.safe_load_all(path.read_text()))
        elif path.suffix == ".json":
            json.loads(path.read_text())


@settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answers=answer_sets())
# The names a random run once found copier crashing on (OSError: File name too
# long), run on every CI run whatever the sample draws.
@example(answers={"package_name": "注" * 90})
@example(answers={"project_slug": "文" * 90})
@example(answers={"project_name": "注文" * 60})
def test_any_answers_are_refused_cleanly_or_make_a_working_project(answers, tmp_path_factory):
    outcomes = {}
    for engine in ("cookiecutter", "copier"):
        destination = tmp_path_factory.mktemp(engine)
        result = cli(engine, answers, destination / "out")
        if result.returncode != 0:
            assert refused_cleanly(engine, answers, result), f"{engine} crashed:\n{result.stdout}\n{result.stderr}"
            assert not (destination / "out").exists() or not any((destination / "out").iterdir())
            outcomes[engine] = None
            continue
        project = destination / "out"
        if engine == "cookiecutter":
            (project,) = project.iterdir()
        check_project(project)
        outcomes[engine] = project
    if all(outcomes.values()):
        by_copier = tree(outcomes["copier"])
        by_copier.pop(ANSWERS_FILE)
        assert tree(outcomes["cookiecutter"]) == by_copier
    else:
        # Engines must agree on refusing, except where cookiecutter rendered a
        # Jinja answer into something valid (its answers are templates).
        assert outcomes["copier"] is None or "{" in json.dumps(answers), outcomes
