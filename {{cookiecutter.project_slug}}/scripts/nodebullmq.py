"""Node BullMQ, installed once per machine into a cache directory, for the benchmark and the interop test.

The release's Lua scripts match those of bullmq 3.4.4 for Python, so a Node
producer or worker shares a queue with this service.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

VERSION = "5.81.5"
INSTALL_HINT = "install Node.js 18+ with npm (Debian/Ubuntu: apt-get install nodejs npm; macOS: brew install node)"


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bullmq-node"


def available() -> bool:
    return bool(shutil.which("node") and shutil.which("npm"))


def node_modules(cache: Path | None = None) -> Path:
    """The ``node_modules`` directory holding npm bullmq, installed on first use (locked against parallel runs)."""
    if not available():
        raise RuntimeError(f"node and npm are needed for Node BullMQ: {INSTALL_HINT}")
    target = (cache or default_cache()) / VERSION
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "node_modules" / "bullmq" / "package.json").exists():
            install = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(target), f"bullmq@{VERSION}"]
            done = subprocess.run(install, capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(install)} failed (is the npm registry reachable?):\n{done.stderr[-2000:]}"
                )
    return target / "node_modules"
