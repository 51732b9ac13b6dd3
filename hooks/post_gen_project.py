"""Cookiecutter shim: tidy the new project with the shared hooks/tidy.py."""

import runpy
from pathlib import Path

tidy = runpy.run_path({{ template_root | tojson }} + "/hooks/tidy.py")
tidy["remove_empty_directories"](Path.cwd())
