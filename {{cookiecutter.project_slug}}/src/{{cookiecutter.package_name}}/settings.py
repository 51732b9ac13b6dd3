"""Every knob of the service, read once from the environment (12-factor).

Each environment variable is declared once, on its field of :class:`Settings`:
name, default, allowed values and meaning. :meth:`Settings.from_env` reads the
variables from there, every value is checked against its range, and
:func:`markdown_table` renders the README's table of them (print it with
``python -m <package>.settings``; a test keeps the README equal to it). A bad
value stops the service with one line that names the variable.

A variable set to an empty value counts as unset, except the queue's names
(an empty one would silently mean another queue than other producers use).
Secrets may also come from files: for a secret ``NAME``, ``NAME_FILE`` names a
file holding it (the Docker and Kubernetes secrets convention).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar
from urllib.parse import SplitResult, urlsplit

from redis.connection import parse_url

SERVICE_NAME = {{ cookiecutter.project_slug | tojson }}
DEFAULT_QUEUE = {{ cookiecutter.queue_name | tojson }}


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


# ---------------------------------------------------------------- what each variable accepts


class Rule:
    """The values a variable takes: ``parse`` reads its text, ``check`` refuses a value out of range."""

    allowed = "any text"

    def parse(self, name: str, text: str) -> Any:
        value = self.convert(name, text)
        self.check(name, value, self.shown(text))
        return value

    def convert(self, name: str, text: str) -> Any:
        return text

    def check(self, name: str, value: Any, shown: str) -> None:
        """Raise :class:`SettingsError` naming the variable when ``value`` is not allowed."""

    def shown(self, text: str) -> str:
        """How a value appears in an error message."""
        return repr(text)


@dataclass(frozen=True)
class Text(Rule):
    pattern: str = r".+"
    allowed: str = "any text"
    problem: str = "must not be empty"

    def check(self, name: str, value: Any, shown: str) -> None:
        if not re.fullmatch(self.pattern, value or ""):
            raise SettingsError(f"{name}={shown} {self.problem}")


@dataclass(frozen=True)
class Number(Rule):
    low: float
    high: float
    why: str = ""  # the reason for ``high``, said when a value is refused

    kind: ClassVar[type] = float
    noun: ClassVar[str] = "a number"

    @property
    def allowed(self) -> str:
        return f"{self.low:g} to {self.high:g}"

    def convert(self, name: str, text: str) -> Any:
        try:
            return self.kind(text)
        except ValueError:
            raise SettingsError(f"{name}={text!r} is not {self.noun}") from None

    def check(self, name: str, value: Any, shown: str) -> None:
        # "not >=" rather than "<": NaN is refused too.
        if not value >= self.low:
            raise SettingsError(f"{name}={shown} must be at least {self.low}")
        if not value <= self.high:
            raise SettingsError(f"{name}={shown} must be at most {self.high}" + (f" ({self.why})" if self.why else ""))


@dataclass(frozen=True)
class Whole(Number):
    kind: ClassVar[type] = int
    noun: ClassVar[str] = "a whole number"

    @property
    def allowed(self) -> str:
        return f"{self.low:,} to {self.high:,}"


@dataclass(frozen=True)
class Processes(Whole):
    """A count of processes: a whole number, or ``auto`` for one per CPU."""

    @property
    def allowed(self) -> str:
        return f"{super().allowed}, or `auto` (one per CPU)"

    def convert(self, name: str, text: str) -> int:
        if text.lower() == "auto":
            return os.cpu_count() or 1
        try:
            return super().convert(name, text)
        except SettingsError as error:
            raise SettingsError(f"{error} (or 'auto' for one per CPU)") from None

    def check(self, name: str, value: Any, shown: str) -> None:
        if not value >= self.low:
            raise SettingsError(f"{name}={shown} must be at least {self.low} (or 'auto' for one per CPU)")
        super().check(name, value, shown)


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return ", ".join(f"`{choice}`" for choice in self.choices)

    def convert(self, name: str, text: str) -> str:
        for choice in self.choices:
            if text.upper() == choice.upper():
                return choice
        raise SettingsError(f"{name}={text!r} must be one of {', '.join(self.choices)}")

    def check(self, name: str, value: Any, shown: str) -> None:
        if value not in self.choices:
            raise SettingsError(f"{name}={shown} must be one of {', '.join(self.choices)}")


class Flag(Rule):
    allowed = "`true` or `false`"

    def convert(self, name: str, text: str) -> bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={text!r} must be true or false")


class Modules(Rule):
    allowed = "Python module names, separated by commas"

    def convert(self, name: str, text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip())

    def check(self, name: str, value: Any, shown: str) -> None:
        if not value or not all(re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module) for module in value):
            raise SettingsError(f"{name}={shown} must be Python module names separated by commas")


class RedisUrl(Rule):
    """A Redis URL, checked without ever showing its credentials.

    redis-py percent-decodes the user name and password of a URL, so characters
    that end the URL's credentials early must be written percent-encoded there.
    A URL that cannot be read is refused with the credentials masked.
    """

    allowed = (
        "`redis://[user:password@]host[:port][/db]`, `rediss://` (TLS) or `unix:///path`; "
        "in the password `/` `?` `#` `%` as `%2F` `%3F` `%23` `%25`"
    )

    def shown(self, text: str) -> str:
        return repr(masked(text))

    def check(self, name: str, value: Any, shown: str) -> None:
        scheme = value.partition("://")[0] if "://" in value else ""
        if scheme not in ("redis", "rediss", "unix"):
            raise SettingsError(
                f"{name} must start with redis://, rediss:// (TLS) or unix://, not {masked(value)[:40]!r}"
            )
        parts = urlsplit(value)
        if "@" in parts.path + parts.query + parts.fragment:
            raise SettingsError(
                f"{name}={shown} cannot be read: a '/', '?' or '#' in its user name or password must be "
                "percent-encoded (%2F, %3F, %23; and '%' as %25), or give the password in REDIS_PASSWORD "
                "or REDIS_PASSWORD_FILE"
            )
        problem = _unix_problem(parts) if scheme == "unix" else _tcp_problem(parts)
        if problem is None:
            try:
                parse_url(value)  # what redis-py will do with it; its messages never quote the URL
            except ValueError as error:
                problem = f"cannot be read ({error})"
        if problem:
            raise SettingsError(f"{name}={shown} {problem}")


def _tcp_problem(parts: SplitResult) -> str | None:
    try:
        port = parts.port
    except ValueError:  # its message quotes the port, which may be a piece of the password
        port = 0
    if port == 0:
        return "has a port that is not a number from 1 to 65535"
    if not parts.hostname:
        return "has no host name"
    if not re.fullmatch(r"/?|/\d+", parts.path):
        return "has a database that is not a number: end it with /0, /1, ..."
    return None


def _unix_problem(parts: SplitResult) -> str | None:
    return None if parts.path else "has no socket path: write unix:///path/to/redis.sock"


def masked(url: str) -> str:
    """``url`` safe to show: what comes before its last '@' (credentials) and its query become ``***``."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    _credentials, at, location = rest.rpartition("@")
    location, query = re.fullmatch(r"([^?#]*)(.*)", location, re.DOTALL).groups()
    return f"{scheme}{separator}{'***@' if at else ''}{location}{'?***' if query else ''}"


# ---------------------------------------------------------------- the variables


@dataclass(frozen=True)
class Variable:
    name: str
    rule: Rule
    meaning: str
    secret: bool = False  # may come from the file NAME_FILE names; never in repr()
    default_text: str | None = None  # the README's default when the value itself says too little
    empty_is_unset: bool = True

    def text(self, env: Mapping[str, str]) -> str | None:
        """The variable's text (from NAME_FILE's file for a secret, when set); None when unset."""
        path = env.get(f"{self.name}_FILE", "").strip() if self.secret else ""
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    raw = handle.read()
            except OSError as error:
                raise SettingsError(f"{self.name}_FILE={path!r} cannot be read: {error.strerror}") from None
            except UnicodeDecodeError:
                raise SettingsError(f"{self.name}_FILE={path!r} is not UTF-8 text") from None
        else:
            raw = env.get(self.name)
        if raw is None or (self.empty_is_unset and not raw.strip()):
            return None
        return raw.strip() or raw  # spaces alone stay spaces, to be refused as such


def setting(
    name: str,
    default: Any,
    rule: Rule,
    meaning: str,
    *,
    factory: Callable[[], Any] | None = None,
    **details: Any,
) -> Any:
    """A :class:`Settings` field read from the environment variable ``name``."""
    variable = Variable(name, rule, meaning, **details)
    if factory is not None:
        return field(default_factory=factory, repr=not variable.secret, metadata={"variable": variable})
    return field(default=default, repr=not variable.secret, metadata={"variable": variable})


ANY = Text()
HOUR_MS = 3_600_000
# Each finished job kept is a Redis hash of a kilobyte or more: these counts
# already reach tens of gigabytes, far past any sensible maxmemory.
MEMORY_WHY = "each kept job holds a kilobyte or more of Redis memory"
PROCESSES_WHY = "each process is an interpreter of about 50 MB with its own Redis connections"


@dataclass(frozen=True)
class Settings:
    redis_url: str = setting(
        "REDIS_URL",
        "redis://127.0.0.1:6379/0",
        RedisUrl(),
        "the Redis server; may carry user and password",
        secret=True,
    )
    redis_username: str | None = setting(
        "REDIS_USERNAME",
        None,
        ANY,
        "ACL user; set it here or in the URL, not both",
        secret=True,
        default_text="from the URL",
    )
    redis_password: str | None = setting(
        "REDIS_PASSWORD",
        None,
        ANY,
        "ACL password; set it here or in the URL, not both",
        secret=True,
        default_text="from the URL",
    )
    queue_name: str = setting(
        "QUEUE_NAME",
        DEFAULT_QUEUE,
        Text(
            r"[^:{}\s\x00-\x1f\x7f]{1,100}",
            "1 to 100 characters; no `:`, `{`, `}` or spaces",
            "must be 1 to 100 characters, without ':', '{', '}' or spaces (they break BullMQ's key layout)",
        ),
        "the queue this service consumes",
        empty_is_unset=False,
    )
    queue_prefix: str = setting(
        "QUEUE_PREFIX",
        "bull",
        Text(
            r"[^\s\x00-\x1f\x7f]{1,100}",
            "1 to 100 characters; no spaces",
            "must be 1 to 100 characters, without spaces (it starts every Redis key of the queue)",
        ),
        "key prefix; the same for every service sharing the queue",
        empty_is_unset=False,
    )
    concurrency: int = setting(
        "WORKER_CONCURRENCY",
        {{ cookiecutter.worker_concurrency | int }},
        Whole(1, 10_000, "each job in flight may hold a Redis connection, and Redis takes 10000 clients by default"),
        "jobs one worker process runs at once",
    )
    shutdown_timeout: float = setting(
        "SHUTDOWN_TIMEOUT",
        25.0,
        Number(0.1, 3600, "a drain longer than an hour is a hang; the orchestrator's grace period must exceed it"),
        "seconds in-flight jobs get after SIGTERM before a forced close",
    )
    log_level: str = setting(
        "LOG_LEVEL", "INFO", Choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")), "the lowest level logged"
    )
    log_format: str = setting(
        "LOG_FORMAT", "json", Choice(("json", "console")), "`json` for production, `console` for local runs"
    )
    keep_completed_count: int = setting(
        "KEEP_COMPLETED_COUNT",
        {{ cookiecutter.keep_completed_count | int }},
        Whole(0, 10_000_000, MEMORY_WHY),
        "completed jobs kept (count)",
    )
    keep_completed_age: int = setting(
        "KEEP_COMPLETED_AGE",
        {{ cookiecutter.keep_completed_age_seconds | int }},
        Whole(0, 365 * 86_400, "retention is not an archive: keep results elsewhere"),
        "completed jobs kept (seconds)",
    )
    keep_failed_count: int = setting(
        "KEEP_FAILED_COUNT",
        {{ cookiecutter.keep_failed_count | int }},
        Whole(1, 100_000_000, MEMORY_WHY),
        "failed jobs kept, for inspection and `retry-failed`",
    )
    job_attempts: int = setting(
        "JOB_ATTEMPTS",
        5,
        Whole(1, 100, "at 1 s doubling per retry, the 26th retry alone would wait over a year"),
        "attempts per job before it fails for good",
    )
    backoff_delay_ms: int = setting(
        "JOB_BACKOFF_MS",
        1000,
        Whole(0, HOUR_MS, "it doubles with each further retry"),
        "first retry delay (milliseconds); it doubles with each attempt",
    )
    backoff_jitter: float = setting(
        "JOB_BACKOFF_JITTER",
        0.5,
        Number(0.0, 1.0),
        "share of each exponential retry delay that is random (0 turns jitter off)",
    )
    lock_duration_ms: int = setting(
        "LOCK_DURATION_MS",
        30_000,
        Whole(1000, HOUR_MS, "a crashed worker's jobs wait that long before another worker takes them"),
        "BullMQ's job lock (milliseconds), renewed every half of it",
    )
    stalled_interval_ms: int = setting(
        "STALLED_INTERVAL_MS",
        30_000,
        Whole(1000, HOUR_MS, "a crashed worker's jobs wait that long on top of the lock"),
        "how often a worker looks for jobs whose lock expired (milliseconds)",
    )
    producer_timeout: float = setting(
        "PRODUCER_TIMEOUT",
        2.0,
        Number(0.1, 60, "producers fail fast; a caller blocked for a minute is already broken"),
        "seconds `enqueue` waits for Redis before it fails",
    )
    allow_eviction_policy: bool = setting(
        "ALLOW_EVICTION_POLICY", False, Flag(), "start even if Redis may evict keys (not safe)"
    )
    redis_tls_ca_file: str | None = setting(
        "REDIS_TLS_CA_FILE",
        None,
        Text(r".+", "a file path"),
        "PEM file of the CA that signed the Redis server's certificate (`rediss://` only)",
    )
    handler_modules: tuple[str, ...] = setting(
        "HANDLER_MODULES",
        (f"{__package__}.jobs",),
        Modules(),
        "modules whose handlers and listeners the worker loads",
    )
{%- if cookiecutter.use_encryption %}
    encryption_keys: str | None = setting(
        "ENCRYPTION_KEYS",
        None,
        Text(r"(?s).+", "32-byte base64url keys, newest first, separated by commas or newlines"),
        "the first key encrypts, all of them decrypt (checked by encryption.py)",
        secret=True,
        default_text="none (required)",
    )
{%- endif %}
    worker_processes: int = setting(
        "WORKER_PROCESSES",
        1,
        Processes(1, 256, PROCESSES_WHY),
        "worker processes under one parent; with `1` no parent runs",
    )
    uvloop: bool = setting(
        "UVLOOP", True, Flag(), "use uvloop's event loop (about 20 % more jobs/s); `false` for asyncio's own"
    )
    hiredis: bool = setting(
        "HIREDIS",
        True,
        Flag(),
        "parse Redis replies with hiredis (about 15 % more jobs/s); `false` for redis-py's Python parser",
    )
    cpu_pool_size: int = setting(
        "CPU_POOL_SIZE",
        None,
        Processes(1, 256, PROCESSES_WHY),
        "processes that run `cpu_bound` handlers (started on the first such job)",
        factory=lambda: os.cpu_count() or 1,
        default_text="one per CPU",
    )
    restart_delay: float = setting(
        "WORKER_RESTART_DELAY",
        1.0,
        Number(0.01, 30, "the delay doubles after each crash and stops at 30 s anyway"),
        "seconds before a crashed worker process is restarted; doubles per crash, at most 30",
    )
    restart_limit: int = setting(
        "WORKER_RESTART_LIMIT",
        5,
        Whole(1, 100, "a crash loop that long will not stop by itself"),
        "crashes in a row (each within 30 s of starting) after which the parent gives up and exits 1",
    )
{%- if cookiecutter.use_metrics %}
    # All interfaces, so probes and Prometheus can reach it from outside the container.
    health_host: str = setting(
        "HEALTH_HOST",
        "0.0.0.0",  # noqa: S104
        Text(r"[^\s]{1,253}", "an IP address or host name", "must be an IP address or host name"),
        "interface of `/livez`, `/readyz`, `/metrics`; `127.0.0.1` keeps them local",
    )
    health_port: int = setting(
        "HEALTH_PORT",
        8080,
        Whole(1, 65_535, "TCP ports end at 65535"),
        "their port (worker process N of several: `HEALTH_PORT + N`); the worker exits 1 at start-up if it is taken",
    )
{%- endif %}
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    def __post_init__(self) -> None:
        for name, variable in _variables(self):
            value = getattr(self, name)
            if value is not None:
                variable.rule.check(variable.name, value, variable.rule.shown(str(value)))
        self._check_together()

    def _check_together(self) -> None:
        """Settings that contradict each other."""
        parts = urlsplit(self.redis_url)
        if parts.password and self.redis_password:
            raise SettingsError("the Redis password is set twice, in REDIS_URL and REDIS_PASSWORD; keep one")
        if parts.username and self.redis_username:
            raise SettingsError("the Redis username is set twice, in REDIS_URL and REDIS_USERNAME; keep one")
        if self.redis_tls_ca_file and parts.scheme != "rediss":
            raise SettingsError("REDIS_TLS_CA_FILE is set but REDIS_URL does not start with rediss:// (TLS)")
{%- if cookiecutter.use_metrics %}
        if self.health_port + self.worker_processes - 1 > 65_535:
            raise SettingsError(
                f"HEALTH_PORT={self.health_port} with WORKER_PROCESSES={self.worker_processes} needs ports "
                f"up to {self.health_port + self.worker_processes - 1}, past 65535"
            )
{%- endif %}

    @property
    def redis_location(self) -> str:
        """The Redis URL without credentials, safe to log."""
        parts = urlsplit(self.redis_url)
        if parts.scheme == "unix":
            return f"unix://{parts.path}"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        values = {}
        for name, variable in _variables(cls):
            text = variable.text(env)
            if text is not None:
                values[name] = variable.rule.parse(variable.name, text)
        return cls(**values)


def _variables(settings: Settings | type[Settings]) -> Iterator[tuple[str, Variable]]:
    """(field name, variable) of every field read from the environment, in declaration order."""
    for item in fields(settings):
        if "variable" in item.metadata:
            yield item.name, item.metadata["variable"]


# ---------------------------------------------------------------- the README's table


def markdown_table() -> str:
    """The README's table of environment variables, one row per :class:`Settings` field."""
    specs = {spec.name: spec for spec in fields(Settings)}
    rows = ["| variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, variable in _variables(Settings):
        default = None if specs[name].default is MISSING else specs[name].default
        title = f"`{variable.name}`" + (f" (or `{variable.name}_FILE`)" if variable.secret else "")
        cells = (title, variable.default_text or _shown_default(default), variable.rule.allowed, variable.meaning)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _shown_default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{value:g}`"
    return f"`{value}`"


if __name__ == "__main__":
    print(markdown_table(), end="")
