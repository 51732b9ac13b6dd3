"""The option sets the template tests generate: every answer value at least once."""

from __future__ import annotations

from engines import answers

FLAGS = answers.FLAGS  # the questions whose answer is true or false, from cookiecutter.json

DEFAULTS: dict = {}  # the template's own defaults
ALL_ON = {flag: True for flag in FLAGS} | {"python_version": "3.13", "license": "Apache-2.0"}
ALL_OFF = {flag: False for flag in FLAGS} | {"python_version": "3.11", "license": "Proprietary"}

OPTION_SETS: dict[str, dict] = {
    "defaults": DEFAULTS,
    "all-on": ALL_ON,
    "all-off": ALL_OFF,
    # Each option flipped alone from the defaults.
    "encryption": {"use_encryption": True},
    "no-metrics": {"use_metrics": False},
    "no-docker": {"use_docker": False},
    "no-kubernetes": {"use_kubernetes": False},
    "no-github-actions": {"use_github_actions": False},
    "python-3.11": {"python_version": "3.11"},
    "license-apache": {"license": "Apache-2.0"},
    "custom-names": {
        "project_name": "Billing Events",
        "project_slug": "billing-events",
        "package_name": "billing_events",
        "queue_name": "billing.events-v2",
        "author_name": "Zoë O'Brien-Łukasiewicz",
        "description": "Bills & refunds: at-least-once, idempotent (¡sí!)",
        "worker_concurrency": "1",
        "keep_completed_count": "0",
        "keep_completed_age_seconds": "0",
        "keep_failed_count": "1",
    },
}

# The generated Python code (src/ and tests/) depends only on these answers.
# The suites of these sets run; every other set must produce the same code as
# one of them (tests/test_generate.py checks), so running it again proves nothing new.
SUITE_SETS = ("defaults", "all-on", "all-off", "custom-names")
