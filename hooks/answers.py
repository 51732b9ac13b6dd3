"""The template's answer rules: the one place that decides what an answer may be.

Both engines call them through the Jinja extension in ``local_extensions.py``:
copier at each prompt (every question's ``validator:``, and once more for all
``-d``/``--data-file`` answers before it asks anything), cookiecutter once all
answers are in (its private ``__answers_checked`` variable); both before they
make a directory. Each refusal is one sentence that names the answer and the rule.

The questions themselves (names, defaults, choices, prompts) are written once,
in ``cookiecutter.json``; the flags and choices below are read from it.

Names that become paths (``project_slug``, ``package_name``) are ASCII, so
their length in bytes is their length in characters and stays far below the
255 bytes a file or directory name may take. ``package_name`` is ASCII on
purpose although Python accepts non-ASCII identifiers: other teams import it
and type it; its module directory's name must equal the NFKC form Python looks
up, which macOS file systems (NFD) and archive tools do not keep; and the
distribution and console-script names beside it are ASCII by specification
(PEP 508). A refused name is refused before anything is written.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from pathlib import Path

QUESTIONS: dict = {
    name: default
    for name, default in json.loads((Path(__file__).resolve().parent.parent / "cookiecutter.json").read_text()).items()
    if not name.startswith("_")
}
FLAGS = tuple(name for name, default in QUESTIONS.items() if isinstance(default, bool))
CHOICES = {name: tuple(default) for name, default in QUESTIONS.items() if isinstance(default, list)}

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Kubernetes names and labels built from the slug (``<slug>-redis``) must fit
# 63 characters; the package follows the slug.
MAX_NAME_BYTES = 50
MAX_QUEUE = 100

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
TEXTS = ("project_name", "description", "author_name")

COUNTS = {
    # name: (smallest allowed, largest allowed, what it means)
    "worker_concurrency": (1, 10_000, "jobs processed at once"),
    "keep_completed_count": (0, 10_000_000, "completed jobs kept"),
    "keep_completed_age_seconds": (0, 365 * 86_400, "seconds completed jobs are kept"),
    "keep_failed_count": (1, 100_000_000, "failed jobs kept"),
}


def _show(value: object) -> str:
    """The answer as a message quotes it: short enough for one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "…" + text[-5:]


def _text(name: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{name} must not be empty."
    if len(value) > MAX_TEXT:
        return f"{name} is {len(value)} characters long; the limit is {MAX_TEXT}."
    if any(not ch.isprintable() for ch in value):
        return f"{name} {_show(value)} contains a newline or control character; use one plain line."
    if any(ord(ch) > 0xFFFF for ch in value):
        return (
            f"{name} {_show(value)} contains a character beyond U+FFFF (such as an emoji); "
            "escaped for TOML and Python it would become an invalid surrogate pair."
        )
    if UNSAFE_TEXT.search(value):
        return (
            f'{name} {_show(value)} contains one of " \\ ` $ < > or a Jinja delimiter; '
            "these could break a generated file."
        )
    return None


def _too_long(name: str, value: str, limit: int, why: str) -> str | None:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"{name} {_show(value)} is {size} bytes long; the limit is {limit} ({why})."
    return None


def _slug(value: object) -> str | None:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        return (
            f"project_slug {_show(value)} is not kebab-case: use lowercase ASCII letters, "
            "digits and single hyphens, starting with a letter."
        )
    return _too_long("project_slug", value, MAX_NAME_BYTES, "Kubernetes names such as <slug>-redis fit 63")


def _package(value: object) -> str | None:
    if not isinstance(value, str) or not PACKAGE.fullmatch(value):
        return (
            f"package_name {_show(value)} is not a valid Python package name: use lowercase "
            "ASCII letters, digits and underscores, starting with a letter."
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"package_name {_show(value)} is a Python keyword; choose another name."
    if value in sys.stdlib_module_names:
        return f"package_name {_show(value)} is a standard-library module; it would shadow it."
    if value in RESERVED_PACKAGES:
        return f"package_name {_show(value)} would shadow a package the service depends on."
    return _too_long("package_name", value, MAX_NAME_BYTES, "a name others import and type")


def _queue(value: object) -> str | None:
    if not isinstance(value, str) or not QUEUE.fullmatch(value) or len(value) > MAX_QUEUE:
        return (
            f"queue_name {_show(value)} may only use ASCII letters, digits, '.', '_' and '-', "
            f"at most {MAX_QUEUE} (no ':', '{{' or '}}', which break BullMQ's Redis key layout and hash slots)."
        )
    return None


def _email(value: object) -> str | None:
    if not isinstance(value, str) or not EMAIL.fullmatch(value) or len(value) > 254:
        return f"author_email {_show(value)} is not an e-mail address like name@example.com."
    return None


def _count(name: str, value: object) -> str | None:
    low, high, meaning = COUNTS[name]
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text):
        return f"{name} {_show(value)} must be a whole number ({meaning})."
    if not low <= int(text) <= high:
        return f"{name} {_show(value)} must be between {low} and {high} ({meaning})."
    return None


def _flag(name: str, value: object) -> str | None:
    if not isinstance(value, bool):
        return f"{name} {_show(value)} must be true or false."
    return None


def _choice(name: str, value: object) -> str | None:
    if value not in CHOICES[name]:
        return f"{name} {_show(value)} must be one of: {', '.join(CHOICES[name])}."
    return None


RULES = {
    **{name: (lambda value, name=name: _text(name, value)) for name in TEXTS},
    "project_slug": _slug,
    "package_name": _package,
    "queue_name": _queue,
    "author_email": _email,
    **{name: (lambda value, name=name: _count(name, value)) for name in COUNTS},
    **{name: (lambda value, name=name: _flag(name, value)) for name in FLAGS},
    **{name: (lambda value, name=name: _choice(name, value)) for name in CHOICES},
}


def problem(name: str, value: object) -> str | None:
    """The rule ``value`` breaks as the answer to ``name``, in one sentence; None when it is fine."""
    return RULES[name](value)


def problems(answers: dict) -> list[str]:
    """Every rule the answers break, one sentence each, in question order (empty when all is well)."""
    found = (problem(name, answers.get(name)) for name in QUESTIONS)
    return [message for message in found if message]


def refusal(messages: list[str]) -> str:
    """What an engine prints when it refuses: each broken rule, then what happened."""
    lines = [f"ERROR: {message}" for message in messages]
    return "\n".join([*lines, "Nothing was generated; answer again with the rules above."])


def suggest_slug(project_name: object) -> str:
    """A valid project_slug from any project name: the default both engines offer."""
    ascii_name = unicodedata.normalize("NFKD", str(project_name)).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_name)
    slug = "-".join(words)[:MAX_NAME_BYTES].strip("-")
    if not slug[:1].isalpha():
        slug = ("service-" + slug)[:MAX_NAME_BYTES].strip("-")
    return slug


def suggest_package(project_slug: object) -> str:
    """A valid package_name from any slug: the default both engines offer."""
    package = suggest_slug(project_slug).replace("-", "_")
    if _package(package):
        package = package[: MAX_NAME_BYTES - len("_service")] + "_service"
    return package
