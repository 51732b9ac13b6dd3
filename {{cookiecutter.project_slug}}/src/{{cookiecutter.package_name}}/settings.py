"""Every knob of the service, read once from the environment (12-factor).

Secrets may also come from files: for any secret ``NAME``, ``NAME_FILE`` names a
file holding it (the Docker and Kubernetes secrets convention).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SERVICE_NAME = {{ cookiecutter.project_slug | tojson }}
DEFAULT_QUEUE = {{ cookiecutter.queue_name | tojson }}


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_username: str | None = None
    redis_password: str | None = field(default=None, repr=False)
    queue_name: str = DEFAULT_QUEUE
    queue_prefix: str = "bull"
    concurrency: int = {{ cookiecutter.worker_concurrency | int }}
    shutdown_timeout: float = 25.0
    log_level: str = "INFO"
    log_format: str = "json"
    keep_completed_count: int = {{ cookiecutter.keep_completed_count | int }}
    keep_completed_age: int = {{ cookiecutter.keep_completed_age_seconds | int }}
    keep_failed_count: int = {{ cookiecutter.keep_failed_count | int }}
    job_attempts: int = 5
    backoff_delay_ms: int = 1000
    backoff_jitter: float = 0.5
    lock_duration_ms: int = 30_000
    stalled_interval_ms: int = 30_000
    producer_timeout: float = 2.0
    allow_eviction_policy: bool = False
    redis_tls_ca_file: str | None = None
    handler_modules: tuple[str, ...] = (f"{__package__}.jobs",)
{%- if cookiecutter.use_encryption %}
    # Raw key text, parsed and checked by protect.py; never logged or repr'd.
    encryption_keys: str | None = field(default=None, repr=False)
{%- endif %}
    # --- performance (supervisor.py, speed.py, offload.py) ---
    worker_processes: int = 1
    uvloop: bool = True
    hiredis: bool = True
    cpu_pool_size: int = field(default_factory=lambda: os.cpu_count() or 1)
    restart_delay: float = 1.0
    restart_limit: int = 5
    # --- end performance ---
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
{%- if cookiecutter.use_metrics %}
    # observe.py: /livez, /readyz and /metrics. All interfaces, so probes and
    # Prometheus can reach it from outside the container.
    health_host: str = "0.0.0.0"  # noqa: S104
    health_port: int = 8080
{%- endif %}

    def __post_init__(self) -> None:
        if urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise SettingsError(
                f"REDIS_URL must start with redis://, rediss:// (TLS) or unix://, not {self.redis_location!r}"
            )
        if not self.queue_name or set(self.queue_name) & set(":{} "):
            raise SettingsError(
                f"QUEUE_NAME={self.queue_name!r} "
                "must be non-empty, without ':', '{', '}' or spaces (they break BullMQ's key layout)"
            )
        if self.backoff_jitter > 1:
            raise SettingsError(f"JOB_BACKOFF_JITTER={self.backoff_jitter} must be between 0 and 1")
        self._check_connection()

    def _check_connection(self) -> None:
        """Connection settings that contradict each other (see connections.py)."""
        parts = urlsplit(self.redis_url)
        if parts.password and self.redis_password:
            raise SettingsError("the Redis password is set twice, in REDIS_URL and REDIS_PASSWORD; keep one")
        if parts.username and self.redis_username:
            raise SettingsError("the Redis username is set twice, in REDIS_URL and REDIS_USERNAME; keep one")
        if self.redis_tls_ca_file and parts.scheme != "rediss":
            raise SettingsError("REDIS_TLS_CA_FILE is set but REDIS_URL does not start with rediss:// (TLS)")

    @property
    def redis_location(self) -> str:
        """The Redis URL without credentials, safe to log."""
        parts = urlsplit(self.redis_url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        read = _Reader(env)
        return cls(
            redis_url=read.text("REDIS_URL", cls.redis_url, secret=True),
            redis_username=read.text("REDIS_USERNAME", None, secret=True),
            redis_password=read.text("REDIS_PASSWORD", None, secret=True),
            queue_name=read.text("QUEUE_NAME", DEFAULT_QUEUE),
            queue_prefix=read.text("QUEUE_PREFIX", cls.queue_prefix),
            concurrency=read.integer("WORKER_CONCURRENCY", cls.concurrency, low=1),
            shutdown_timeout=read.number("SHUTDOWN_TIMEOUT", cls.shutdown_timeout, low=0.1),
            log_level=read.choice("LOG_LEVEL", cls.log_level, LOG_LEVELS),
            log_format=read.choice("LOG_FORMAT", cls.log_format, ("json", "console")),
            keep_completed_count=read.integer("KEEP_COMPLETED_COUNT", cls.keep_completed_count),
            keep_completed_age=read.integer("KEEP_COMPLETED_AGE", cls.keep_completed_age),
            keep_failed_count=read.integer("KEEP_FAILED_COUNT", cls.keep_failed_count, low=1),
            job_attempts=read.integer("JOB_ATTEMPTS", cls.job_attempts, low=1),
            backoff_delay_ms=read.integer("JOB_BACKOFF_MS", cls.backoff_delay_ms),
            backoff_jitter=read.number("JOB_BACKOFF_JITTER", cls.backoff_jitter, low=0.0),
            lock_duration_ms=read.integer("LOCK_DURATION_MS", cls.lock_duration_ms, low=1000),
            stalled_interval_ms=read.integer("STALLED_INTERVAL_MS", cls.stalled_interval_ms, low=1000),
            producer_timeout=read.number("PRODUCER_TIMEOUT", cls.producer_timeout, low=0.1),
            allow_eviction_policy=read.flag("ALLOW_EVICTION_POLICY", False),
            redis_tls_ca_file=read.text("REDIS_TLS_CA_FILE", None),
            handler_modules=read.names("HANDLER_MODULES", cls.handler_modules),
{%- if cookiecutter.use_metrics %}
            health_host=read.text("HEALTH_HOST", cls.health_host),
            health_port=read.integer("HEALTH_PORT", cls.health_port, low=1),
{%- endif %}
{%- if cookiecutter.use_encryption %}
            encryption_keys=read.text("ENCRYPTION_KEYS", None, secret=True),
{%- endif %}
            # --- performance ---
            worker_processes=read.count_or_auto("WORKER_PROCESSES", 1),
            uvloop=read.flag("UVLOOP", True),
            hiredis=read.flag("HIREDIS", True),
            cpu_pool_size=read.count_or_auto("CPU_POOL_SIZE", os.cpu_count() or 1),
            restart_delay=read.number("WORKER_RESTART_DELAY", cls.restart_delay, low=0.01),
            restart_limit=read.integer("WORKER_RESTART_LIMIT", cls.restart_limit, low=1),
            # --- end performance ---
        )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _Reader:
    """Typed access to environment variables, with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None, *, secret: bool = False) -> str | None:
        path = self.env.get(f"{name}_FILE") if secret else None
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    return handle.read().strip()
            except OSError as error:
                raise SettingsError(f"{name}_FILE={path!r} cannot be read: {error.strerror}") from None
        value = self.env.get(name, "").strip()
        return value or default

    def integer(self, name: str, default: int, *, low: int = 0) -> int:
        raw = self.text(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number") from None
        if value < low:
            raise SettingsError(f"{name}={raw!r} must be at least {low}")
        return value

    def number(self, name: str, default: float, *, low: float) -> float:
        raw = self.text(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number") from None
        if not value >= low:
            raise SettingsError(f"{name}={raw!r} must be at least {low}")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.text(name, default)
        for choice in choices:
            if raw.upper() == choice.upper():
                return choice
        raise SettingsError(f"{name}={raw!r} must be one of {', '.join(choices)}")

    def names(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.text(name, None)
        if raw is None:
            return default
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def count_or_auto(self, name: str, default: int) -> int:
        """A count of processes: a whole number of at least 1, or ``auto`` for the CPU count."""
        raw = self.text(name, None)
        if raw is not None and raw.lower() == "auto":
            return os.cpu_count() or 1
        try:
            return self.integer(name, default, low=1)
        except SettingsError as error:
            raise SettingsError(f"{error} (or 'auto' for one per CPU)") from None

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, None)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}={raw!r} must be true or false")
