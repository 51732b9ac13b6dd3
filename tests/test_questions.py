"""The questions are written once, in cookiecutter.json; copier.yml's are written from it."""

from __future__ import annotations

import json

import yaml
from engines import QUESTIONS, TEMPLATE, template_module

writer = template_module("hooks/write_copier_yml.py")
COOKIECUTTER = json.loads((TEMPLATE / "cookiecutter.json").read_text())
COPIER_TEXT = (TEMPLATE / "copier.yml").read_text()


def test_copier_yml_is_exactly_what_the_writer_makes_of_cookiecutter_json():
    # Names, order, types, prompt text, choices, defaults, validators and the
    # `cookiecutter` mapping: any difference fails here. Fix: `make copier.yml`.
    assert writer.render(COPIER_TEXT, COOKIECUTTER) == COPIER_TEXT, "run `make copier.yml` and commit copier.yml"


def test_a_hand_edit_below_the_marker_is_caught():
    edited = COPIER_TEXT.replace('default: "10"', 'default: "12"')
    assert edited != COPIER_TEXT
    assert writer.render(edited, COOKIECUTTER) != edited


def test_copier_asks_the_same_questions_each_checked_by_the_shared_rules():
    copier = yaml.safe_load(COPIER_TEXT)
    questions = {name: spec for name, spec in copier.items() if not name.startswith("_") and name != "cookiecutter"}
    assert list(questions) == list(QUESTIONS)
    for name, spec in questions.items():
        assert spec["help"] == COOKIECUTTER["__prompts__"][name]
        assert spec["validator"] == f"{{{{ answer_problem('{name}', {name}) }}}}"
    assert "local_extensions.py:AnswerRules" in copier["_jinja_extensions"]


def test_cookiecutter_checks_every_answer_before_it_makes_a_directory():
    # Private "__" variables are rendered after the questions, before any file.
    names = list(COOKIECUTTER)
    assert COOKIECUTTER["__answers_checked"] == "{{ cookiecutter | refuse_bad_answers }}"
    assert names.index("__answers_checked") > max(names.index(name) for name in QUESTIONS)
