"""Unit tests of the shared answer rules in hooks/answers.py."""

from __future__ import annotations

import json
import runpy

import pytest
from engines import TEMPLATE

rules = runpy.run_path(str(TEMPLATE / "hooks" / "answers.py"))
problems, main = rules["problems"], rules["main"]

GOOD = {
    "project_name": "Order Worker",
    "project_slug": "order-worker",
    "package_name": "order_worker",
    "description": "Processes orders.",
    "author_name": "Zoë O'Brien",
    "author_email": "team@example.com",
    "python_version": "3.12",
    "queue_name": "orders.v2_main-1",
    "worker_concurrency": "10",
    "keep_completed_count": "0",
    "keep_completed_age_seconds": "86400",
    "keep_failed_count": "5000",
    "use_encryption": False,
    "use_metrics": True,
    "use_docker": True,
    "use_kubernetes": False,
    "use_github_actions": True,
    "license": "MIT",
}


def test_good_answers_pass():
    assert problems(GOOD) == []


def test_copier_integers_are_accepted():
    assert problems(GOOD | {"worker_concurrency": 4, "keep_failed_count": 10}) == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("project_slug", "Order_Worker", "is not kebab-case"),
        ("project_slug", "order--worker", "is not kebab-case"),
        ("project_slug", "-order", "is not kebab-case"),
        ("package_name", "order-worker", "not a valid Python package name"),
        ("package_name", "class", "is a Python keyword"),
        ("package_name", "match", "is a Python keyword"),
        ("package_name", "json", "is a standard-library module"),
        ("package_name", "asyncio", "is a standard-library module"),
        ("package_name", "bullmq", "would shadow a package"),
        ("queue_name", "orders:high", "no ':', '{' or '}'"),
        ("queue_name", "{orders}", "no ':', '{' or '}'"),
        ("queue_name", "or ders", "no ':', '{' or '}'"),
        ("worker_concurrency", "0", "must be between 1 and"),
        ("worker_concurrency", "-3", "must be a whole number"),
        ("worker_concurrency", "ten", "must be a whole number"),
        ("keep_failed_count", "0", "must be between 1 and"),
        ("author_email", "not-an-email", "is not an e-mail address"),
        ("author_email", "a@b", "is not an e-mail address"),
        ("project_name", 'Say "hi"', "could break a generated file"),
        ("description", "back\\slash", "could break a generated file"),
        ("description", "two\nlines", "newline or control character"),
        ("author_name", "{{ 7 * 7 }}", "could break a generated file"),
        ("author_name", "{% raw %}", "could break a generated file"),
        ("project_name", "$(rm -rf /)", "could break a generated file"),
        ("description", "x" * 201, "the limit is 200"),
        ("description", "boxes \U0001f4e6", "beyond U+FFFF"),
        ("author_name", "del\x7f", "control character"),
        ("project_name", "   ", "must not be empty"),
        ("use_docker", "maybe", "must be true or false"),
        ("python_version", "3.9", "must be one of"),
        ("license", "GPL", "must be one of"),
    ],
)
def test_each_rule_refuses_with_one_sentence_naming_the_answer(name, value, expected):
    found = problems(GOOD | {name: value})
    assert len(found) == 1, found
    assert found[0].startswith(name), found
    assert expected in found[0]


def test_unicode_names_are_welcome_in_free_text():
    assert problems(GOOD | {"project_name": "Café Wörker 注文", "author_name": "Łukasz Żółć"}) == []


def test_main_exits_non_zero_and_prints_each_problem(capsys):
    assert main([json.dumps(GOOD | {"queue_name": "a:b"})]) == 1
    err = capsys.readouterr().err
    assert "ERROR: queue_name 'a:b'" in err
    assert "Nothing was generated" in err
    assert main([json.dumps(GOOD)]) == 0


def test_tidy_removes_only_empty_directories(tmp_path):
    tidy = runpy.run_path(str(TEMPLATE / "hooks" / "tidy.py"))
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "deploy" / "kubernetes").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "keep.py").write_text("")
    removed = tidy["remove_empty_directories"](tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in removed) == [
        ".github",
        ".github/workflows",
        "deploy",
        "deploy/kubernetes",
    ]
    assert (tmp_path / "src" / "keep.py").exists()
