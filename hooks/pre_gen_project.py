"""Cookiecutter shim: refuse bad answers with the shared rules in hooks/answers.py."""

import runpy
import sys

rules = runpy.run_path({{ template_root | tojson }} + "/hooks/answers.py")
sys.exit(rules["main"]([{{ cookiecutter | tojson | tojson }}]))
