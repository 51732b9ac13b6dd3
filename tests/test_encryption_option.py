"""use_encryption: with it, the encryption modules, their tests and `cryptography`; without it, no trace of them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from engines import tree, with_cookiecutter

ENCRYPTION_FILES = (
    "src/order_worker/encryption.py",
    "src/order_worker/keys.py",
    "src/order_worker/sensitive.py",
    "tests/test_encryption.py",
    "tests/test_encryption_service.py",
    "tests/handlers_for_encryption_tests.py",
)
# Words only the encryption option writes.
TRACES = (
    "cryptography",
    "ENCRYPTION_KEYS",
    "jobenc",
    ".encryption",
    "encryption.",
    "keys rotate",
    "Protecting job data",
    "SESSION_KEY",
)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("encryption")
    return {flag: with_cookiecutter({"use_encryption": flag}, root / str(flag).lower()) for flag in (False, True)}


def test_without_encryption_nothing_of_it_is_generated(projects):
    files = tree(projects[False])
    assert not set(ENCRYPTION_FILES) & set(files)
    found = [f"{path}: {word}" for path, data in files.items() for word in TRACES if word in data.decode("utf-8")]
    assert not found, found


def test_without_encryption_the_service_never_imports_cryptography(projects):
    project = projects[False]
    # A None entry in sys.modules makes any import of the name fail.
    probe = (
        "import sys; sys.modules['cryptography'] = None\n"
        "import order_worker.__main__, order_worker.worker, order_worker.producer, order_worker.logs\n"
        "order_worker.__main__.main(['--help'])"
    )
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # argparse --help exits 0
    assert "keys" not in result.stdout


def test_with_encryption_the_modules_the_dependency_and_the_docs_are_there(projects):
    files = tree(projects[True])
    assert set(ENCRYPTION_FILES) <= set(files)
    assert b'"cryptography>=' in files["pyproject.toml"]
    assert b"## Envelope format" in files["docs/encryption.md"]
    assert b"(docs/encryption.md)" in files["README.md"]
    assert b"ENCRYPTION_KEYS" in files[".env.example"]
