"""The generated benchmark runs: `scripts/bench.py --quick` once (proves it works; speed is not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from engines import with_cookiecutter
from options import ALL_OFF, ALL_ON


@pytest.mark.parametrize("answers", [ALL_ON, ALL_OFF], ids=["all-on", "all-off"])
def test_quick_benchmark_runs_and_prints_ratios(tmp_path, answers):
    project = with_cookiecutter(answers, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "BENCH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--quick"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "bullmq 3.4.4" in output
    assert "b/a" in output
    assert "c/a" in output
    assert "service/plain, single" in output
    assert "recovery:" in output
    assert "this service   median" in output
    if answers["use_encryption"]:
        assert "encrypted/unencrypted, single" in output
    else:
        assert "encryption: not generated" in output  # skipped, not faked
