"""Pure functions of the runtime: listener registration and the jittered backoff."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from {{ cookiecutter.package_name }} import retries
from {{ cookiecutter.package_name }}.registry import listener


def test_jitter_follows_node_bullmqs_formula():
    # The strategy reads only the job's options.
    job = SimpleNamespace(opts={"backoff": retries.with_jitter({"type": "exponential", "delay": 1000}, 0.25)})
    for attempt in (1, 2, 3):
        longest = 1000 * 2 ** (attempt - 1)
        delays = {retries.backoff_strategy(attempt, "", RuntimeError(), job) for _ in range(200)}
        assert min(delays) >= longest * 0.75
        assert max(delays) < longest
    assert retries.with_jitter({"type": "exponential", "delay": 1000}, 0) == {"type": "exponential", "delay": 1000}
    assert retries.with_jitter({"type": "custom"}, 0.5) == {"type": "custom"}


def test_async_listeners_are_refused_at_registration():
    with pytest.raises(TypeError, match="never awaits them"):

        @listener("completed")
        async def on_completed(job, result) -> None:
            pass

    with pytest.raises(ValueError, match="unknown worker event 'complete'"):

        @listener("complete")
        def on_complete(job, result) -> None:
            pass
