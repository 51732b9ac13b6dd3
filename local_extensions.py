"""Jinja extension that tells cookiecutter's hooks where the template lives.

Cookiecutter renders each hook to a temporary file and runs it inside the new
project, so a hook cannot find ``hooks/answers.py`` by itself. Listed in
``_extensions`` of cookiecutter.json, this hands the hooks an absolute path.
"""

from pathlib import Path

from jinja2.ext import Extension


class TemplateRoot(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["template_root"] = str(Path(__file__).resolve().parent)
