"""Listeners that raise on every event; loaded only by the tests that prove they cannot hurt.

Registered through the service's own ``@listener`` decorator, as a team's
listener would be.
"""

from __future__ import annotations

from {{ cookiecutter.package_name }}.registry import listener


class ListenerBugError(RuntimeError):
    pass


@listener("active")
def on_active(job, _previous) -> None:
    raise ListenerBugError(f"active listener raised for job {job.id}")


@listener("completed")
def on_completed(job, _result) -> None:
    raise ListenerBugError(f"completed listener raised for job {job.id}")


@listener("failed")
def on_failed(job, _error) -> None:
    raise ListenerBugError(f"failed listener raised for job {job.id}")


@listener("error")
def on_error(error, *_job) -> None:
    raise ListenerBugError(f"error listener raised for {error!r}")
