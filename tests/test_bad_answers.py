"""Both engines refuse bad answers with the rule's sentence alone, before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import copier
import pytest
from engines import QUESTIONS, TEMPLATE, answers, cli, copier_at_prompts

LONG_CJK = "注" * 90  # valid identifier characters, 270 bytes in UTF-8: too long for a file name

BAD = {
    "slug": ({"project_slug": "Bad_Slug"}, "project_slug 'Bad_Slug' is not kebab-case"),
    "long-slug": ({"project_slug": "a" * 300}, "is 300 bytes long; the limit is 50"),
    "cjk-slug": ({"project_slug": LONG_CJK}, "project_slug '注注注"),
    "cjk-package": ({"package_name": LONG_CJK}, "package_name '注注注"),
    "keyword-package": ({"package_name": "import"}, "package_name 'import' is a Python keyword"),
    "stdlib-package": ({"package_name": "logging"}, "package_name 'logging' is a standard-library module"),
    "queue-colon": ({"queue_name": "orders:high"}, "queue_name 'orders:high' may only use"),
    "queue-brace": ({"queue_name": "{orders}"}, "queue_name '{orders}' may only use"),
    "concurrency": ({"worker_concurrency": "0"}, "worker_concurrency '0' must be between 1"),
    "email": ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    "quote": ({"description": 'a "quoted" word'}, "could break a generated file"),
    "jinja": ({"author_name": "{{ oops }}"}, "could break a generated file"),
    "choice": ({"python_version": "3.9"}, "python_version '3.9' must be one of: 3.12, 3.11, 3.13"),
}
# Cookiecutter refuses two kinds of answer itself, before the shared rules
# see them: Jinja in an answer (it renders every answer as a template), and a
# choice that is not among the choices (with a traceback of its own).
COOKIECUTTER_MESSAGES = {
    "jinja": "Unable to render variable 'author_name'",
    "choice": "ValueError: 3.9 provided for choice variable python_version",
}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` (itself included) with its type, mode, times and bytes."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        content = path.read_bytes() if path.is_file() else None
        found[path.relative_to(root).as_posix()] = (info.st_mode, info.st_mtime_ns, content)
    return found


@pytest.mark.parametrize("engine", ["cookiecutter", "copier"])
@pytest.mark.parametrize("case", BAD)
def test_bad_answer_is_refused_with_the_sentence_alone_and_nothing_is_left(engine, case, tmp_path):
    given, message = BAD[case]
    if engine == "cookiecutter":
        message = COOKIECUTTER_MESSAGES.get(case, message)
    destination = tmp_path / "out"
    result = cli(engine, given, destination)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output
    if engine == "copier" or case not in COOKIECUTTER_MESSAGES:
        assert "Traceback" not in output, output
    assert not destination.exists(), f"{engine} left {sorted(destination.rglob('*'))}"


@pytest.mark.parametrize("engine", ["cookiecutter", "copier"])
def test_refusal_into_an_existing_folder_leaves_it_exactly_as_it_was(engine, tmp_path):
    folder = tmp_path / "existing"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "plan.md").write_text("the team's own file\n")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(folder / "run.sh", 0o755)
    before = snapshot(folder)
    result = cli(engine, {"package_name": LONG_CJK}, folder)
    assert result.returncode != 0
    assert "package_name '注注注" in result.stdout + result.stderr
    assert snapshot(folder) == before


def test_copier_validators_refuse_data_answers_even_when_nothing_is_printed(tmp_path):
    # Quiet, copier prints no message, so the early check of -d answers does
    # not run: the question's own validator still refuses, before any file.
    destination = tmp_path / "out"
    destination.mkdir()
    with pytest.raises(ValueError, match="package_name 'json' is a standard-library module"):
        copier.run_copy(
            str(TEMPLATE), str(destination), data={"package_name": "json"}, defaults=True, unsafe=True, quiet=True
        )
    assert list(destination.iterdir()) == []


TEXT_QUESTIONS = [name for name in QUESTIONS if name not in answers.FLAGS and name not in answers.CHOICES]
BAD_AT_PROMPT = {
    "project_name": 'Say "hi"',
    "project_slug": "a" * 300,
    "package_name": LONG_CJK,
    "description": "x" * 201,
    "author_name": "{{ oops }}",
    "author_email": "nobody",
    "queue_name": "orders:high",
    "worker_concurrency": "0",
    "keep_completed_count": "-1",
    "keep_completed_age_seconds": "forever",
    "keep_failed_count": "0",
}


@pytest.mark.parametrize("name", TEXT_QUESTIONS)
def test_copier_refuses_a_bad_answer_at_its_own_prompt(name, tmp_path):
    before = list(QUESTIONS).index(name)  # Enter takes each earlier question's default
    value = BAD_AT_PROMPT[name]
    screen = copier_at_prompts(
        tmp_path / "out", "\r" * before + "\x15" + value + "\r", until=f"Validation error for question '{name}'"
    )
    sentence = answers.problem(name, value)
    assert sentence and f"Validation error for question '{name}': {sentence}" in screen, screen[-2000:]
    assert not (tmp_path / "out").exists()
