"""Write copier.yml's questions from cookiecutter.json, where they are written once.

copier.yml keeps its settings (everything above MARKER) by hand; everything
below is this script's output: each question with its type, prompt text,
choices, default and validator, then the computed ``cookiecutter`` mapping
that lets the files' ``cookiecutter.`` names work under copier.
tests/test_questions.py fails when the committed file differs from it.

Usage: python hooks/write_copier_yml.py   (or `make copier.yml`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# ---- Written by hooks/write_copier_yml.py from cookiecutter.json: edit that file, not below. ----\n"


def _scalar(value: object) -> str:
    # JSON scalars are YAML flow scalars, and json.dumps quotes every string.
    return json.dumps(value, ensure_ascii=False)


def questions(cookiecutter: dict) -> str:
    """The question part of copier.yml for the questions in ``cookiecutter`` (cookiecutter.json's content)."""
    prompts = cookiecutter["__prompts__"]
    names = [name for name in cookiecutter if not name.startswith("_")]
    lines = []
    for name in names:
        default = cookiecutter[name]
        lines += [f"{name}:", f"  type: {'bool' if isinstance(default, bool) else 'str'}"]
        lines.append(f"  help: {_scalar(prompts[name])}")
        if isinstance(default, list):
            lines.append(f"  choices: [{', '.join(_scalar(choice) for choice in default)}]")
            default = default[0]
        elif isinstance(default, str):
            default = default.replace("cookiecutter.", "")
        lines.append(f"  default: {_scalar(default)}")
        lines.append(f"  validator: {_scalar(f'{{{{ answer_problem({name!r}, {name}) }}}}')}")
    lines += [
        "",
        "# Not a question: the answers under the name the files use. JSON rather",
        "# than YAML because YAML does not join JSON's surrogate-pair escapes.",
        "cookiecutter:",
        "  type: json",
        "  when: false",
        "  default: |",
        "    {",
        *(f'      "{name}": {{{{ {name} | to_json }}}}{"," if name != names[-1] else ""}' for name in names),
        "    }",
    ]
    return "\n".join(lines) + "\n"


def render(current: str, cookiecutter: dict) -> str:
    """copier.yml as it should be: ``current``'s settings, then the questions."""
    settings, found, _ = current.partition(MARKER)
    if not found:
        raise SystemExit(f"copier.yml has no line {MARKER.strip()!r} to write below")
    return settings + MARKER + questions(cookiecutter)


def main() -> int:
    path = ROOT / "copier.yml"
    cookiecutter = json.loads((ROOT / "cookiecutter.json").read_text())
    path.write_text(render(path.read_text(), cookiecutter))
    return 0


if __name__ == "__main__":
    sys.exit(main())
