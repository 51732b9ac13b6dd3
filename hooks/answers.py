"""The template's answer rules, shared by cookiecutter and copier.

Cookiecutter runs this module from ``hooks/pre_gen_project.py``; copier runs it
as its first task. Both hand it the answers as one JSON document, so no answer
is ever pasted into Python code. Each refusal is one sentence that names the
answer and the rule.

Usage: python answers.py '<answers as JSON>'
"""

from __future__ import annotations

import json
import keyword
import re
import sys

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# Names a generated package must not take: it would shadow what it imports.
RESERVED_PACKAGES = frozenset(
    {
        "bullmq",
        "redis",
        "hiredis",
        "cryptography",
        "prometheus_client",
        "uvloop",
        "tests",
        "test",
        "src",
        "site",
        "setuptools",
        "pip",
        "pytest",
    }
)
# Characters that could break a generated file or a later template render,
# even though every answer is escaped where it is written.
UNSAFE_TEXT = re.compile(r'["\\`$<>]|\{\{|\{%|\{#|\}\}|%\}|#\}')
MAX_TEXT = 200

CHOICES = {
    "python_version": ("3.11", "3.12", "3.13"),
    "license": ("MIT", "Apache-2.0", "Proprietary"),
}
FLAGS = ("use_encryption", "use_metrics", "use_docker", "use_kubernetes", "use_github_actions")
COUNTS = {
    # name: (smallest allowed, largest allowed, what it means)
    "worker_concurrency": (1, 10_000, "jobs processed at once"),
    "keep_completed_count": (0, 10_000_000, "completed jobs kept"),
    "keep_completed_age_seconds": (0, 365 * 86_400, "seconds completed jobs are kept"),
    "keep_failed_count": (1, 100_000_000, "failed jobs kept"),
}


def _text(name: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{name} must not be empty."
    if len(value) > MAX_TEXT:
        return f"{name} is {len(value)} characters long; the limit is {MAX_TEXT}."
    if any(not ch.isprintable() for ch in value):
        return f"{name} {value!r} contains a newline or control character; use one plain line."
    if any(ord(ch) > 0xFFFF for ch in value):
        return (
            f"{name} {value!r} contains a character beyond U+FFFF (such as an emoji); "
            "escaped for TOML and Python it would become an invalid surrogate pair."
        )
    if UNSAFE_TEXT.search(value):
        return (
            f'{name} {value!r} contains one of " \\ ` $ < > or a Jinja delimiter; these could break a generated file.'
        )
    return None


def _slug(value: object) -> str | None:
    if not isinstance(value, str) or not SLUG.fullmatch(value) or len(value) > 50:
        return (
            f"project_slug {value!r} is not kebab-case: use lowercase ASCII letters, "
            "digits and single hyphens, starting with a letter, at most 50 characters."
        )
    return None


def _package(value: object) -> str | None:
    if not isinstance(value, str) or not PACKAGE.fullmatch(value) or len(value) > 50:
        return (
            f"package_name {value!r} is not a valid Python package name: use lowercase "
            "ASCII letters, digits and underscores, starting with a letter."
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"package_name {value!r} is a Python keyword; choose another name."
    if value in sys.stdlib_module_names:
        return f"package_name {value!r} is a standard-library module; it would shadow it."
    if value in RESERVED_PACKAGES:
        return f"package_name {value!r} would shadow a package the service depends on."
    return None


def _queue(value: object) -> str | None:
    if not isinstance(value, str) or not QUEUE.fullmatch(value) or len(value) > 100:
        return (
            f"queue_name {value!r} may only use ASCII letters, digits, '.', '_' and '-' "
            "(no ':', '{' or '}', which break BullMQ's Redis key layout and hash slots)."
        )
    return None


def _email(value: object) -> str | None:
    if not isinstance(value, str) or not EMAIL.fullmatch(value) or len(value) > 254:
        return f"author_email {value!r} is not an e-mail address like name@example.com."
    return None


def _count(name: str, value: object) -> str | None:
    low, high, meaning = COUNTS[name]
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text):
        return f"{name} {value!r} must be a whole number ({meaning})."
    if not low <= int(text) <= high:
        return f"{name} {value!r} must be between {low} and {high} ({meaning})."
    return None


def _flag(name: str, value: object) -> str | None:
    if not isinstance(value, bool):
        return f"{name} {value!r} must be true or false."
    return None


def _choice(name: str, value: object) -> str | None:
    if value not in CHOICES[name]:
        return f"{name} {value!r} must be one of: {', '.join(CHOICES[name])}."
    return None


def problems(answers: dict) -> list[str]:
    """Every rule the answers break, one sentence each (empty when all is well)."""
    found = [
        *(_text(name, answers.get(name)) for name in ("project_name", "description", "author_name")),
        _slug(answers.get("project_slug")),
        _package(answers.get("package_name")),
        _queue(answers.get("queue_name")),
        _email(answers.get("author_email")),
        *(_count(name, answers.get(name)) for name in COUNTS),
        *(_flag(name, answers.get(name)) for name in FLAGS),
        *(_choice(name, answers.get(name)) for name in CHOICES),
    ]
    return [message for message in found if message]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    errors = problems(json.loads(argv[0]))
    for message in errors:
        print(f"ERROR: {message}", file=sys.stderr)
    if errors:
        print("Nothing was generated; answer again with the rules above.", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
