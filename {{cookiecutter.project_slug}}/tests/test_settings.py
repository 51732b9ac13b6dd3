"""Settings: every variable parsed once, bad values named in the error."""

from __future__ import annotations

import re

import pytest

from {{ cookiecutter.package_name }}.settings import Settings, SettingsError


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


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("placeholder-password\n")
    settings = Settings.from_env({"REDIS_PASSWORD_FILE": str(secret)})
    assert settings.redis_password == "placeholder-password"  # noqa: S105  (a test placeholder)
    assert "placeholder-password" not in repr(settings)


def test_logged_location_has_no_credentials():
    settings = Settings.from_env({"REDIS_URL": "rediss://user:placeholder@redis.internal:6380/2"})
    assert settings.redis_location == "rediss://redis.internal:6380/2"
