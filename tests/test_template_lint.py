"""The template's own Python (hooks, tests) passes the same linters as generated code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from engines import TEMPLATE


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
