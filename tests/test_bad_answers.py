"""Both engines refuse bad answers with the rule's sentence and leave nothing behind."""

from __future__ import annotations

import pytest
from engines import cli

BAD = {
    "slug": ({"project_slug": "Bad_Slug"}, "project_slug 'Bad_Slug' is not kebab-case"),
    "keyword-package": ({"package_name": "import"}, "package_name 'import' is a Python keyword"),
    "stdlib-package": ({"package_name": "logging"}, "package_name 'logging' is a standard-library module"),
    "queue-colon": ({"queue_name": "orders:high"}, "queue_name 'orders:high' may only use"),
    "queue-brace": ({"queue_name": "{orders}"}, "queue_name '{orders}' may only use"),
    "concurrency": ({"worker_concurrency": "0"}, "worker_concurrency '0' must be between 1"),
    "email": ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    "quote": ({"description": 'a "quoted" word'}, "could break a generated file"),
    "jinja": ({"author_name": "{{ oops }}"}, "could break a generated file"),
}
# Cookiecutter renders every answer as a Jinja template before any hook runs,
# so it refuses Jinja in an answer itself, with its own message.
COOKIECUTTER_MESSAGES = {"jinja": "Unable to render variable 'author_name'"}


@pytest.mark.parametrize("engine", ["cookiecutter", "copier"])
@pytest.mark.parametrize("case", BAD)
def test_bad_answer_is_refused_and_nothing_is_left(engine, case, tmp_path):
    answers, message = BAD[case]
    if engine == "cookiecutter":
        message = COOKIECUTTER_MESSAGES.get(case, message)
    destination = tmp_path / "out"
    result = cli(engine, answers, destination)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    leftovers = [path for path in destination.rglob("*")] if destination.exists() else []
    assert leftovers == [], f"{engine} left files behind: {leftovers}"
