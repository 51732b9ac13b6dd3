"""What both engines print once a service is generated: the next three steps.

Cookiecutter prints it from ``hooks/post_gen_project.py``, copier as its
``_message_after_copy``; both call ``text`` through ``local_extensions.py``.
"""

from __future__ import annotations

import shlex


def text(answers: dict, project_dir: object) -> str:
    """The next steps for a project generated with ``answers`` into ``project_dir``."""
    where = shlex.quote(str(project_dir))
    return f"""
Generated {answers["project_name"]} in {project_dir}. Next:
  1. cd {where} && git init -q && git add -A && git commit -qm "Generated from the BullMQ worker-service template"
  2. make test    # the service's own tests; they start their own redis-server (install it first)
  3. make run     # the worker on a local Redis; README.md shows how to add a job and watch it
"""
