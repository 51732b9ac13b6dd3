"""The generated project's chaos drill, run once per CI run: nothing acknowledged is lost.

And once with Redis persistence off, to prove the drill notices when jobs are lost.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from engines import QUESTIONS, with_cookiecutter

QUICK_LIMIT = 45.0  # seconds; the bound for `chaos.py --quick`


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return with_cookiecutter(QUESTIONS, tmp_path_factory.mktemp("chaos"))


def drill(project, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    result = subprocess.run(
        [sys.executable, "scripts/chaos.py", "--quick", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )
    line = next((line for line in result.stdout.splitlines() if line.startswith("chaos summary:")), "")
    assert line, f"no summary line:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result, dict(re.findall(r"(\w+)=(\S+)", line))


def test_quick_drill_loses_nothing_acknowledged(project):
    result, summary = drill(project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert summary["lost"] == "0"
    assert summary["stuck_active"] == "0"
    assert summary["acknowledged"] == "800/800"
    assert summary["completed"] == "800", "the quick drill keeps every job; all must complete"
    assert summary["faults"] == "redis-kill:1,worker-kill:1,service-restart:1,redis-pause:1"
    assert float(summary["wall"].rstrip("s")) < QUICK_LIMIT


def test_drill_detects_lost_jobs_when_redis_does_not_persist(project):
    result, summary = drill(project, "--faults", "redis-kill=1", "--redis-config", "appendonly no")
    assert result.returncode == 1, result.stdout[-4000:]
    assert int(summary["lost"]) > 0
    assert "FAIL" in result.stdout


def test_soak_mode_runs_and_reports_memory(project):
    """A short soak (the full 100,000 jobs is `make soak`): it runs, and retention keeps Redis bounded."""
    result = subprocess.run(
        [sys.executable, "scripts/chaos.py", "--soak", "--jobs", "3000"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "soak summary: PASS" in result.stdout
    assert "growth_after_warmup=" in result.stdout
