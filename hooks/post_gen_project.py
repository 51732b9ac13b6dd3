"""Cookiecutter shim: tidy the new project (hooks/tidy.py), then print the next steps (hooks/next_steps.py)."""

import json
import runpy
from pathlib import Path

hooks = {{ template_root | tojson }} + "/hooks/"
runpy.run_path(hooks + "tidy.py")["remove_empty_directories"](Path.cwd())
print(runpy.run_path(hooks + "next_steps.py")["text"](json.loads({{ cookiecutter | tojson | tojson }}), Path.cwd()))
