"""Settings: every variable parsed once and range-checked, bad values named in one line, the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import PROJECT, cli

# isort: split
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, markdown_table

NOWHERE = "redis://127.0.0.1:1/0"  # never contacted: each of these is refused before any connection


def test_defaults_come_from_the_template_answers():
    settings = Settings.from_env({})
    assert settings.queue_name == {{ cookiecutter.queue_name | tojson }}
    assert settings.concurrency == {{ cookiecutter.worker_concurrency | int }}
    assert settings.keep_failed_count == {{ cookiecutter.keep_failed_count | int }}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY='0' must be at least 1"),
        ({"WORKER_CONCURRENCY": "many"}, "WORKER_CONCURRENCY='many' is not a whole number"),
        ({"SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT='soon' is not a number"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' must be one of"),
        ({"QUEUE_NAME": "a:b"}, "QUEUE_NAME='a:b'"),
        ({"REDIS_URL": "http://example.com"}, "REDIS_URL must start with"),
        ({"REDIS_PASSWORD_FILE": "/nonexistent/pw"}, "REDIS_PASSWORD_FILE='/nonexistent/pw' cannot be read"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


# Issue 12, defect 8: values each of which once started a service that could not work.
OUT_OF_RANGE = {
    "concurrency": ({"WORKER_CONCURRENCY": "1000000000"}, "WORKER_CONCURRENCY='1000000000' must be at most 10000"),
    "endless-shutdown": ({"SHUTDOWN_TIMEOUT": "inf"}, "SHUTDOWN_TIMEOUT='inf' must be at most 3600"),
    "processes": ({"WORKER_PROCESSES": "100000"}, "WORKER_PROCESSES='100000' must be at most 256"),
    "empty-prefix": ({"QUEUE_PREFIX": ""}, "QUEUE_PREFIX='' must be 1 to 100 characters"),
    "blank-prefix": ({"QUEUE_PREFIX": "  "}, "QUEUE_PREFIX='  ' must be 1 to 100 characters"),
    "spaced-prefix": ({"QUEUE_PREFIX": "my prefix"}, "QUEUE_PREFIX='my prefix' must be 1 to 100 characters"),
    "attempts": ({"JOB_ATTEMPTS": "1e9"}, "JOB_ATTEMPTS='1e9' is not a whole number"),
{%- if cookiecutter.use_metrics %}
    "port": ({"HEALTH_PORT": "70000"}, "HEALTH_PORT='70000' must be at most 65535"),
    "port-span": ({"HEALTH_PORT": "65535", "WORKER_PROCESSES": "2"}, "HEALTH_PORT=65535 with WORKER_PROCESSES=2"),
{%- endif %}
}


@pytest.mark.parametrize(("env", "message"), OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_values_out_of_range_are_refused(env, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_a_refused_value_stops_the_start_with_one_line_and_exit_2():
    result = cli(NOWHERE, "worker", WORKER_CONCURRENCY="1000000000")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: WORKER_CONCURRENCY='1000000000' must be at most 10000 ("), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stdout == ""


# Issue 12, defect 7: a password holding a URL delimiter once ended the URL's
# credentials early; the rest was read as the port and quoted in the error.
SECRET = "Zq8-placeholder-Kv3"  # noqa: S105  (a test placeholder)


@pytest.mark.parametrize(
    "url",
    [
        f"redis://svc:{SECRET[:5]}/{SECRET[5:]}@127.0.0.1:6379/0",
        f"redis://svc:{SECRET[:5]}#{SECRET[5:]}@127.0.0.1:6379/0",
        f"redis://:{SECRET[:5]}?{SECRET[5:]}@127.0.0.1/0",
        f"redis://svc:{SECRET}@127.0.0.1:abc/0",
        f"redis://svc:{SECRET}@127.0.0.1:6379/zero",
    ],
    ids=["slash", "hash", "question-mark", "bad-port", "bad-database"],
)
def test_an_unreadable_redis_url_is_one_line_without_its_password(url):
    result = cli(url, "worker")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: REDIS_URL='redis://***@127.0.0.1"), result.stderr
    assert "Traceback" not in output
    for piece in (SECRET, SECRET[:5], SECRET[5:]):
        assert piece not in output


def test_the_refusal_says_how_to_write_such_a_password():
    with pytest.raises(SettingsError, match="must be percent-encoded") as refused:
        Settings.from_env({"REDIS_URL": f"redis://svc:{SECRET[:5]}/{SECRET[5:]}@127.0.0.1:6379/0"})
    assert SECRET[:5] not in str(refused.value)
    percent_encoded = Settings.from_env({"REDIS_URL": f"redis://svc:{SECRET[:5]}%2F{SECRET[5:]}@127.0.0.1:6379/0"})
    assert percent_encoded.redis_location == "redis://127.0.0.1:6379/0"


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("placeholder-password\n")
    settings = Settings.from_env({"REDIS_PASSWORD_FILE": str(secret)})
    assert settings.redis_password == "placeholder-password"  # noqa: S105  (a test placeholder)
    assert "placeholder-password" not in repr(settings)


def test_logged_location_has_no_credentials():
    settings = Settings.from_env({"REDIS_URL": "rediss://user:placeholder@redis.internal:6380/2"})
    assert settings.redis_location == "rediss://redis.internal:6380/2"
    assert "placeholder" not in repr(settings)


def readme_table(readme: Path) -> str:
    text = readme.read_text()
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    for marker in (begin, end):
        assert marker in text, f"{readme.name} has no {marker.strip()} marker around its table of variables"
    return text.split(begin, 1)[1].split(end, 1)[0]


def test_the_readme_table_is_the_settings_table():
    """Print the table with `python -m <package>.settings` and paste it between the markers."""
    assert readme_table(PROJECT / "README.md") == markdown_table()


def test_every_variable_has_a_range():
    for line in markdown_table().splitlines()[2:]:
        variable, _default, allowed, _meaning = (cell.strip() for cell in line.strip("|").split(" | "))
        assert allowed, f"{variable} has no allowed values"
