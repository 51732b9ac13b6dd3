"""cookiecutter.json and copier.yml ask the same questions with the same defaults."""

from __future__ import annotations

import json
import re

import yaml
from engines import QUESTIONS, TEMPLATE

COOKIECUTTER = json.loads((TEMPLATE / "cookiecutter.json").read_text())
COPIER = {
    key: value
    for key, value in yaml.safe_load((TEMPLATE / "copier.yml").read_text()).items()
    if not key.startswith("_") and key != "cookiecutter"
}


def test_same_questions_in_the_same_order():
    assert list(COPIER) == list(QUESTIONS)


def test_same_defaults_and_choices():
    for name, default in QUESTIONS.items():
        question = COPIER[name]
        if isinstance(default, list):
            assert question["choices"] == default, name
            assert question["default"] == default[0], name
        elif isinstance(default, str) and "{{" in default:
            assert question["default"] == default.replace("cookiecutter.", ""), name
        else:
            assert str(question["default"]).lower() == str(default).lower(), name


def test_same_prompt_text():
    prompts = COOKIECUTTER["__prompts__"]
    assert set(prompts) == set(QUESTIONS)
    for name in QUESTIONS:
        assert COPIER[name]["help"] == prompts[name], name


def test_copier_exposes_every_answer_to_the_files():
    mapping = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["cookiecutter"]["default"]
    exposed = re.findall(r'^\s*"(\w+)": \{\{ (\w+) ', mapping, re.MULTILINE)
    assert exposed == [(name, name) for name in QUESTIONS]
