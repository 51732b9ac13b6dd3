"""Retry backoff with jitter, as Node BullMQ computes it.

A job's ``backoff`` option may carry ``jitter`` (0 to 1), the field Node
BullMQ reads: the delay is then drawn uniformly from
``[delay * (1 - jitter), delay)``, so jobs that failed together (an outage of
a downstream API) do not all retry in the same instant. bullmq 3.4.4 for
Python ignores ``jitter``: its builtin ``exponential`` and ``fixed`` strategies
always win over a custom strategy. So the worker hands jobs that use them to
:func:`backoff_strategy` under a private type name (in memory only; Redis keeps
the job's options as written), and applies ``JOB_BACKOFF_JITTER`` to
exponential backoffs that do not say otherwise.
"""

from __future__ import annotations

import random
from typing import Any

JITTERED = "service-jittered"
_BUILTIN = {
    "fixed": lambda delay, attempt: delay,
    "exponential": lambda delay, attempt: round(2 ** (attempt - 1) * delay),
}


def with_jitter(backoff: dict[str, Any] | None, default_jitter: float) -> dict[str, Any] | None:
    """The backoff option this worker uses for a job; unchanged unless jitter applies."""
    if not isinstance(backoff, dict) or backoff.get("type") not in _BUILTIN:
        return backoff
    jitter = backoff.get("jitter", default_jitter if backoff["type"] == "exponential" else 0)
    if not jitter:
        return backoff
    return {**backoff, "type": JITTERED, "base": backoff["type"], "jitter": min(float(jitter), 1.0)}


def backoff_strategy(attempts_made: int, _type: str, _error: BaseException, job: Any) -> int:
    """bullmq's custom strategy hook (worker option ``settings.backoffStrategy``); milliseconds."""
    backoff = job.opts["backoff"]
    longest = _BUILTIN[backoff["base"]](backoff.get("delay") or 0, attempts_made)
    if longest <= 0:
        return 0
    jitter = backoff["jitter"]
    # Node BullMQ's formula; at least 1 ms, because bullmq reads 0 as "retry at once".
    return max(1, int(random.random() * longest * jitter + longest * (1 - jitter)))  # noqa: S311  (not crypto)
