"""The Jinja extension both engines load: the answer rules and the next steps.

Cookiecutter loads it through ``_extensions`` in cookiecutter.json (the
template root is on its import path); copier through ``_jinja_extensions`` in
copier.yml, with the ``copier-template-extensions`` loader that imports a file
of the template by its path. Either way the rules are ``hooks/answers.py``,
imported here by path, so there is one copy of them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from jinja2.ext import Extension

ROOT = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bullmq_template_{name}", ROOT / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the like look their module up
    spec.loader.exec_module(module)
    return module


answers = _load("answers")
next_steps = _load("next_steps")


def answer_problem(name: str, value: object) -> str:
    """A copier ``validator:``: the broken rule's sentence, or nothing."""
    return answers.problem(name, value) or ""


def refuse_bad_data(data: dict) -> str:
    """Copier, before its first prompt: refuse ``-d``/``--data-file`` answers with the sentence only.

    Copier would stop on them at the question too, but with a traceback.
    """
    from copier.errors import UserMessageError

    # Copier casts any flag to a bool itself; the other answers arrive as given.
    given = [name for name in answers.QUESTIONS if name in data and name not in answers.FLAGS]
    found = [answers.problem(name, data[name]) for name in given]
    if messages := [message for message in found if message]:
        raise UserMessageError(answers.refusal(messages))
    return ""


def refuse_bad_answers(values: dict) -> str:
    """Cookiecutter, once all answers are in and before any directory exists.

    Raised as cookiecutter's ``FailedHookException``, which its command line
    prints as the message alone.
    """
    from cookiecutter.exceptions import FailedHookException

    if messages := answers.problems(dict(values)):
        raise FailedHookException(answers.refusal(messages))
    return ""


class AnswerRules(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(
            template_root=str(ROOT),
            answer_problem=answer_problem,
            refuse_bad_data=refuse_bad_data,
            next_steps=next_steps.text,
        )
        environment.filters.update(
            suggest_slug=answers.suggest_slug,
            suggest_package=answers.suggest_package,
            refuse_bad_answers=refuse_bad_answers,
        )
