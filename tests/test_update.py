"""copier update brings template changes into a project without losing the team's edits."""

from __future__ import annotations

import copier
from engines import git, release, template_repo, with_copier

TEAM_HANDLER = """

@handler("team-job")
async def team_job(job: Job) -> str:
    return "ours"
"""


def test_update_merges_template_change_and_keeps_local_edit(tmp_path):
    template = template_repo(tmp_path / "template", "v0.1.0")
    project = with_copier({}, tmp_path / "project", template=template, ref="v0.1.0")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "generated")

    jobs = project / "src" / "order_worker" / "jobs.py"
    jobs.write_text(jobs.read_text() + TEAM_HANDLER)
    git(project, "commit", "-q", "-am", "add our handler")

    conf = template / "{{cookiecutter.project_slug}}" / "redis.conf"
    conf.write_text(conf.read_text() + "# template change in v0.2.0\n")
    release(template, "v0.2.0")

    copier.run_update(str(project), defaults=True, unsafe=True, overwrite=True, quiet=True)

    assert "# template change in v0.2.0" in (project / "redis.conf").read_text()
    assert '@handler("team-job")' in jobs.read_text()
    assert "_commit: v0.2.0" in (project / ".copier-answers.yml").read_text()
