"""use_metrics: observe.py, its tests and prometheus-client exist only when chosen."""

from __future__ import annotations

import pytest
from engines import tree, with_cookiecutter


@pytest.mark.parametrize("use_metrics", [True, False])
def test_metrics_files_and_dependency_follow_the_answer(tmp_path, use_metrics):
    project = with_cookiecutter({"use_metrics": use_metrics}, tmp_path)
    files = tree(project)
    package = "src/order_worker"
    assert (f"{package}/observe.py" in files) is use_metrics
    assert ("tests/test_observe.py" in files) is use_metrics
    mentions = [path for path, data in files.items() if b"prometheus" in data.lower()]
    if use_metrics:
        assert "pyproject.toml" in mentions
    else:
        assert not mentions, f"prometheus mentioned without use_metrics: {mentions}"
        assert b"HEALTH_PORT" not in files[f"{package}/settings.py"]
    # Logging and the operator commands are always there.
    assert f"{package}/logs.py" in files
    assert f"{package}/ops.py" in files
