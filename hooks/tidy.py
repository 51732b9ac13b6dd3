"""Remove the empty directories that conditional file names leave behind.

An option turned off renders its files' names empty, so both engines skip
them, but the directories that held them (``.github/workflows``,
``deploy/kubernetes``) are still created. Run in the generated project by
cookiecutter's ``post_gen_project.py`` and by copier's ``_tasks``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def remove_empty_directories(root: Path) -> list[Path]:
    """Delete empty directories below ``root``, deepest first; return what was removed."""
    removed = []
    for directory, _subdirectories, _files in os.walk(root, topdown=False):
        path = Path(directory)
        if path != root and ".git" not in path.parts and not any(path.iterdir()):
            path.rmdir()
            removed.append(path)
    return removed


if __name__ == "__main__":
    remove_empty_directories(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
