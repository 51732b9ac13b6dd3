"""Unit tests of the shared answer rules in hooks/answers.py."""

from __future__ import annotations

import runpy

import pytest
from engines import TEMPLATE, answers
from hypothesis import given
from hypothesis import strategies as st

problems, problem = answers.problems, answers.problem

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
        # Names that become paths: bytes count, and only ASCII is a name.
        ("project_slug", "a" * 51, "is 51 bytes long; the limit is 50"),
        ("project_slug", "注" * 90, "is not kebab-case"),
        ("package_name", "a" * 51, "is 51 bytes long; the limit is 50"),
        ("package_name", "注" * 90, "not a valid Python package name"),
        ("package_name", "café", "not a valid Python package name"),
        ("queue_name", "q" * 101, "at most 100"),
    ],
)
def test_each_rule_refuses_with_one_sentence_naming_the_answer(name, value, expected):
    found = problems(GOOD | {name: value})
    assert len(found) == 1, found
    assert found[0].startswith(name), found
    assert expected in found[0]


def test_unicode_names_are_welcome_in_free_text():
    assert problems(GOOD | {"project_name": "Café Wörker 注文", "author_name": "Łukasz Żółć"}) == []


def test_a_refusal_names_each_problem_then_says_nothing_was_generated():
    text = answers.refusal(problems(GOOD | {"queue_name": "a:b", "package_name": "json"}))
    assert text.splitlines() == [
        "ERROR: " + problem("package_name", "json"),
        "ERROR: " + problem("queue_name", "a:b"),
        "Nothing was generated; answer again with the rules above.",
    ]


def test_a_long_answer_is_quoted_short_in_its_sentence():
    sentence = problem("package_name", "注" * 90)
    assert len(sentence) < 200, sentence
    assert "…" in sentence


def test_every_question_has_exactly_one_rule():
    assert list(answers.RULES) != [] and set(answers.RULES) == set(answers.QUESTIONS)


@given(st.text())
def test_the_offered_defaults_are_always_valid(project_name):
    # Copier checks a default before it shows it, and stops with a traceback
    # when it is refused; the derived slug and package must never be.
    slug = answers.suggest_slug(project_name)
    assert problem("project_slug", slug) is None, slug
    assert problem("package_name", answers.suggest_package(slug)) is None
    assert problem("queue_name", slug) is None


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Order Worker", "order-worker", "order_worker"),
        ("Café Orders (EU)", "cafe-orders-eu", "cafe_orders_eu"),
        ("注文", "service", "service"),
        ("2FA codes", "service-2fa-codes", "service_2fa_codes"),
        ("JSON", "json", "json_service"),
        ("Test", "test", "test_service"),
    ],
)
def test_offered_defaults_keep_the_name_where_they_can(name, slug, package):
    assert answers.suggest_slug(name) == slug
    assert answers.suggest_package(slug) == package


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
