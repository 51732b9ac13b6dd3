"""Template releases reach generated services: copier and cruft updates across real tagged versions.

Each test builds its own tagged git copy of the template (CI's clone of this
repository may carry no tags), generates a service from the older release,
makes the edits a team makes, releases a newer template and updates.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from engines import commit_all, git, release, template_repo, with_copier, with_cruft

PROJECT_DIR = "{{cookiecutter.project_slug}}"
PACKAGE_DIR = f"{PROJECT_DIR}/src/{{{{cookiecutter.package_name}}}}"
TEAM_HANDLER = """

@handler("team-job")
async def team_job(job: Job) -> str:
    return "ours"
"""
TEAM_TEST = """

def test_team_job_is_ours():
    assert asyncio.run(jobs.team_job(job())) == "ours"
"""
TEAM_README = "Billing events for the EU region. On call: #billing-oncall."
README_PLACEHOLDER = "What this service does, the jobs it handles, who to call when it misbehaves."
ENGINES = ("copier", "cruft")


# --- the existing quick check --------------------------------------------------------------------


def test_update_merges_template_change_and_keeps_local_edit(tmp_path):
    template = template_repo(tmp_path / "template", "v0.1.0")
    project = with_copier({}, tmp_path / "project", template=template, ref="v0.1.0")
    commit_all(project, "generated")

    jobs = project / "src" / "order_worker" / "jobs.py"
    jobs.write_text(jobs.read_text() + TEAM_HANDLER)
    git(project, "commit", "-q", "-am", "add our handler")

    conf = template / PROJECT_DIR / "redis.conf"
    conf.write_text(conf.read_text() + "# template change in v0.2.0\n")
    release(template, "v0.2.0")

    copier.run_update(str(project), defaults=True, unsafe=True, overwrite=True, quiet=True)

    assert "# template change in v0.2.0" in (project / "redis.conf").read_text()
    assert '@handler("team-job")' in jobs.read_text()
    assert "_commit: v0.2.0" in (project / ".copier-answers.yml").read_text()


# --- helpers ---------------------------------------------------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new, 1))


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def generate(engine: str, template: Path, destination: Path) -> Path:
    """A service from the template's v0.1.0, committed as its team would."""
    if engine == "copier":
        project = with_copier({}, destination / "order-worker", template=template, ref="v0.1.0")
    else:
        project = with_cruft({}, destination, template=template, checkout="v0.1.0")
    commit_all(project, "generated from template v0.1.0")
    return project


def team_edits(project: Path) -> None:
    """What a team does after generating: handlers, their tests, a setting, their README, a deletion."""
    package = project / "src" / "order_worker"
    append(package / "jobs.py", TEAM_HANDLER)
    append(project / "tests" / "test_jobs.py", TEAM_TEST)
    edit(package / "settings.py", '"JOB_ATTEMPTS",\n        5,', '"JOB_ATTEMPTS",\n        8,')
    edit(project / ".env.example", "JOB_ATTEMPTS=5", "JOB_ATTEMPTS=8")
    # The README's table of variables must follow settings.py (the generated test_settings.py checks it).
    edit(project / "README.md", "| `JOB_ATTEMPTS` | `5` |", "| `JOB_ATTEMPTS` | `8` |")
    edit(project / "README.md", README_PLACEHOLDER, TEAM_README)
    (project / ".pre-commit-config.yaml").unlink()
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our service")


def release_0_2_0(template: Path) -> None:
    """A compatible release touching template-owned, team-owned and deleted files."""
    append(template / PROJECT_DIR / "redis.conf", "# v0.2.0: template-owned change\n")
    edit(template / PACKAGE_DIR / "settings.py", "(12-factor).", "(12-factor).\n\nv0.2.0: template-owned change.")
    edit(template / PROJECT_DIR / "README.md", "## Commands\n", "## Commands\n\nv0.2.0: template-owned change.\n")
    (template / PROJECT_DIR / "docs").mkdir(exist_ok=True)
    (template / PROJECT_DIR / "docs" / "upgrading.md").write_text("# Upgrading\n\nv0.2.0: a new file.\n")
    append(template / PACKAGE_DIR / "jobs.py", "# v0.2.0: must not reach a team's jobs.py\n")
    append(template / PROJECT_DIR / "tests" / "test_jobs.py", "# v0.2.0: must not reach a team's tests\n")
    append(template / PROJECT_DIR / ".pre-commit-config.yaml", "# v0.2.0: must not resurrect a deleted file\n")
    edit(template / "CHANGELOG.md", "## 0.1.0", "## 0.2.0\n\nA compatible release.\n\n## 0.1.0")
    release(template, "v0.2.0")


def release_1_0_0(template: Path, *, with_migration: bool) -> None:
    """A breaking release: registry.py becomes routing.py, which breaks imports in team-owned files."""
    package = template / PACKAGE_DIR
    git(template, "mv", str(package / "registry.py"), str(package / "routing.py"))
    for path in (template / PROJECT_DIR).rglob("*"):
        if path.is_file() and OWN_REGISTRY.search(path.read_text()):
            path.write_text(OWN_REGISTRY.sub("routing import", path.read_text()))
    edit(template / "CHANGELOG.md", "## 0.1.0", "## 1.0.0 (breaking)\n\nregistry.py is now routing.py.\n\n## 0.1.0")
    if with_migration:
        (template / "migrations" / "1.0.0.py").write_text(MIGRATION_1_0_0)
    release(template, "v1.0.0")


# The service's own registry module, not e.g. prometheus_client.registry.
OWN_REGISTRY = re.compile(r"(?<!prometheus_client\.)registry import")

MIGRATION_1_0_0 = '''"""1.0.0: registry.py became routing.py; point the team's own files at it."""
import re
from pathlib import Path

IMPORT = re.compile(r"^(from (?!prometheus_client)\\S*?)\\bregistry import", re.MULTILINE)
for path in [*Path("src").rglob("*.py"), *Path("tests").rglob("*.py")]:
    text = path.read_text(encoding="utf-8")
    if IMPORT.search(text):
        path.write_text(IMPORT.sub(r"\\1routing import", text), encoding="utf-8")
        print(f"migrated {path}")
'''


def make_update(project: Path, *args: str) -> subprocess.CompletedProcess:
    """`make template-update` in the project, with this interpreter's copier and cruft."""
    return subprocess.run(
        ["make", "--no-print-directory", "template-update", f"UPDATE_PYTHON={sys.executable}", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def recorded_release(project: Path, template: Path) -> str:
    """The template release the project says it is on."""
    answers = project / ".copier-answers.yml"
    if answers.exists():
        return re.search(r"^_commit: (\S+)", answers.read_text(), re.MULTILINE)[1]
    import json

    commit = json.loads((project / ".cruft.json").read_text())["commit"]
    return git(template, "describe", "--tags", "--exact-match", commit).strip()


def assert_lint_and_tests_pass(project: Path) -> None:
    for command in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--no-cache", "--check", "."]):
        result = subprocess.run([sys.executable, "-m", *command], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not slow"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


# --- a compatible release --------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_update_to_a_newer_release_keeps_the_teams_work(tmp_path, engine):
    template = template_repo(tmp_path / "template", "v0.1.0")
    project = generate(engine, template, tmp_path / "out")
    team_edits(project)
    release_0_2_0(template)

    # A dirty tree is refused with a clear message, and nothing changes.
    append(project / "redis.conf", "# uncommitted\n")
    refused = make_update(project)
    assert refused.returncode != 0
    assert "uncommitted changes; commit or stash them first" in refused.stderr
    assert recorded_release(project, template) == "v0.1.0"
    git(project, "checkout", "--", "redis.conf")

    result = make_update(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Updated" in result.stderr and "v0.2.0" in result.stderr

    package = project / "src" / "order_worker"
    # The template's changes arrive...
    assert "# v0.2.0: template-owned change" in (project / "redis.conf").read_text()
    assert "v0.2.0: template-owned change." in (package / "settings.py").read_text()
    assert "v0.2.0: template-owned change." in (project / "README.md").read_text()
    assert (project / "docs" / "upgrading.md").is_file()
    assert recorded_release(project, template) == "v0.2.0"
    # ...the team's edits survive, team-owned files are untouched...
    assert '@handler("team-job")' in (package / "jobs.py").read_text()
    assert "v0.2.0" not in (package / "jobs.py").read_text()
    assert "test_team_job_is_ours" in (project / "tests" / "test_jobs.py").read_text()
    assert "v0.2.0" not in (project / "tests" / "test_jobs.py").read_text()
    assert '"JOB_ATTEMPTS",\n        8,' in (package / "settings.py").read_text()
    assert "JOB_ATTEMPTS=8" in (project / ".env.example").read_text()
    assert TEAM_README in (project / "README.md").read_text()
    # ...a deleted optional file stays deleted, and nothing is left to resolve.
    assert not (project / ".pre-commit-config.yaml").exists()
    assert not list(project.rglob("*.rej"))
    assert "<<<<<<<" not in git(project, "diff")
    assert_lint_and_tests_pass(project)

    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "template v0.2.0")
    again = make_update(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Already on the newest template release" in again.stderr
    assert not git(project, "status", "--porcelain")


# --- a breaking release ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_breaking_release_needs_its_migration_and_then_runs_it(tmp_path, engine):
    template = template_repo(tmp_path / "template", "v0.1.0")
    project = generate(engine, template, tmp_path / "out")
    team_edits(project)
    jobs = project / "src" / "order_worker" / "jobs.py"

    # Released without its migration: refused before the project changes.
    release_1_0_0(template, with_migration=False)
    refused = make_update(project)
    assert refused.returncode != 0
    assert "refusing to update across breaking release 1.0.0" in refused.stderr
    assert "migrations/1.0.0.py" in refused.stderr
    assert not git(project, "status", "--porcelain"), "a refused update must leave the project as it was"
    assert recorded_release(project, template) == "v0.1.0"

    # The same release with its migration (the tag moved, as a maintainer would before announcing it).
    (template / "migrations" / "1.0.0.py").write_text(MIGRATION_1_0_0)
    git(template, "add", "-A")
    git(template, "commit", "-q", "-m", "add migration 1.0.0")
    git(template, "tag", "-f", "v1.0.0")

    result = make_update(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "template migration 1.0.0" in result.stderr
    assert recorded_release(project, template) == "v1.0.0"
    assert not (project / "src" / "order_worker" / "registry.py").exists()
    assert "from .routing import" in jobs.read_text()
    assert '@handler("team-job")' in jobs.read_text()
    assert "from order_worker.routing import" in (project / "tests" / "test_jobs.py").read_text()
    assert_lint_and_tests_pass(project)


def test_a_breaking_release_without_migration_is_refused_by_the_release_rules(tmp_path):
    """hooks/releases.py itself: the rule both engines rely on, on the template's own CHANGELOG."""
    template = template_repo(tmp_path / "template", "v0.1.0")
    release_1_0_0(template, with_migration=False)
    rules = [sys.executable, str(template / "hooks" / "releases.py")]
    check = subprocess.run([*rules, "check", "0.1.0", "1.0.0"], capture_output=True, text=True, check=False)
    assert check.returncode == 1
    assert "breaking release 1.0.0" in check.stderr
    below = subprocess.run([*rules, "check", "0.1.0", "0.9.9"], capture_output=True, text=True, check=False)
    assert below.returncode == 0, below.stderr
    (template / "migrations" / "1.0.0.py").write_text(MIGRATION_1_0_0)
    fixed = subprocess.run([*rules, "check", "0.1.0", "1.0.0"], capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stderr


def test_every_breaking_release_in_the_changelog_ships_its_migration():
    from engines import TEMPLATE

    text = (TEMPLATE / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\d+\.\d+\.\d+)(\s+\(breaking\))?", text, re.MULTILINE)
    assert headings, "CHANGELOG.md lists no releases"
    assert headings[0][0] == "0.1.0" or headings, "newest release first"
    for version, breaking in headings:
        if breaking:
            assert (TEMPLATE / "migrations" / f"{version}.py").is_file(), f"breaking {version} has no migration"


# --- the scheduled drift workflow ------------------------------------------------------------------

WORKFLOW = ".github/workflows/template-update.yml"


def test_drift_workflow_is_valid_least_privilege_and_passes_zizmor(tmp_path):
    from engines import with_cookiecutter

    project = with_cookiecutter({}, tmp_path)
    workflow = project / WORKFLOW
    schema = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    zizmor = subprocess.run(
        [Path(sys.executable).parent / "zizmor", "--offline", "--persona=pedantic", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr

    spec = yaml.safe_load(workflow.read_text())
    assert spec["permissions"] == {}, "nothing by default; each job asks for what it needs"
    update, pull_request = spec["jobs"]["update"], spec["jobs"]["pull-request"]
    assert update["permissions"] == {"contents": "read"}, "the job that runs template code cannot push"
    assert pull_request["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert pull_request["needs"] == "update"
    for step in update["steps"] + pull_request["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    text = workflow.read_text()
    assert "secrets." not in text, "only the default token"
    assert text.count("github.token") == 1, "the token reaches one step only"
    assert "scripts/template_update.py --ci" in yaml.safe_dump(update)
    # The job with the write token runs no template code: no Python, no copier, no project scripts.
    actions = {step["uses"].split("@")[0] for step in pull_request["steps"] if "uses" in step}
    assert actions == {"actions/checkout", "actions/download-artifact"}
    scripts = "\n".join(step.get("run", "") for step in pull_request["steps"])
    for runs_code in ("pip ", "python", "copier", "cruft", "scripts/", "make -", "make\n"):
        assert runs_code not in scripts, f"the pull-request job must not run template code ({runs_code!r})"


def workflow_step(project: Path, job: str, name: str) -> str:
    spec = yaml.safe_load((project / WORKFLOW).read_text())
    (step,) = [step for step in spec["jobs"][job]["steps"] if step.get("name") == name]
    return step["run"]


def test_drift_workflow_hands_over_a_patch_that_the_writer_checks_and_applies(tmp_path):
    """The two jobs' own shell steps: job 1 writes the patch; job 2 refuses .github/ changes and applies the rest."""
    from engines import with_cookiecutter

    project = with_cookiecutter({}, tmp_path / "generated")
    commit_all(project, "generated")
    runner = tmp_path / "runner"
    runner.mkdir()
    env = {**os.environ, "RUNNER_TEMP": str(runner), "GITHUB_STEP_SUMMARY": str(runner / "summary.md")}

    def step(job: str, name: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
        script = workflow_step(project, job, name)
        return subprocess.run(
            ["bash", "-e", "-c", script], cwd=cwd, env={**env, **extra}, capture_output=True, text=True, check=False
        )

    def handed_over(edit) -> Path:
        """A fresh checkout for job 2, and job 1's patch of an update made by `edit`."""
        checkout = tmp_path / f"checkout-{len(list(tmp_path.iterdir()))}"
        git(tmp_path, "clone", "-q", str(project), str(checkout))
        git(project, "reset", "-q", "--hard")
        git(project, "clean", "-qfd")
        edit()
        written = step("update", "Write the update as a patch", project)
        assert written.returncode == 0, written.stderr
        return checkout

    def update_redis_conf():
        append(project / "redis.conf", "# from the template\n")
        (project / "docs-new.md").write_text("a new file\n")

    checkout = handed_over(update_redis_conf)
    applied = step("pull-request", "Check and apply the patch", checkout, TO="v0.2.0")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert git(checkout, "diff", "--cached", "--name-only").split() == ["docs-new.md", "redis.conf"]

    checkout = handed_over(lambda: append(project / "README.md", "\n"))
    refused = step("pull-request", "Check and apply the patch", checkout, TO="v0.2.0; rm -rf /")
    assert refused.returncode == 1 and "is not a release tag" in refused.stdout

    checkout = handed_over(lambda: append(project / WORKFLOW, "# widened by a template release\n"))
    refused = step("pull-request", "Check and apply the patch", checkout, TO="v0.2.0")
    assert refused.returncode == 1 and "changes .github/" in refused.stdout, refused.stdout + refused.stderr
    assert not git(checkout, "status", "--porcelain"), "nothing applied"


def test_no_drift_workflow_without_github_actions(tmp_path):
    from engines import with_cookiecutter

    project = with_cookiecutter({"use_github_actions": False}, tmp_path)
    assert not (project / WORKFLOW).exists()
    assert (project / "scripts" / "template_update.py").is_file(), "make template-update works without Actions"


def test_copier_and_cruft_protect_the_same_team_owned_files(tmp_path):
    import tomllib

    import yaml
    from engines import TEMPLATE, with_cookiecutter

    project = with_cookiecutter({}, tmp_path)
    for_cruft = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["cruft"]["skip"]
    for_copier = yaml.safe_load((TEMPLATE / "copier.yml").read_text())["_skip_if_exists"]
    # copier skips a listed file only if it exists; cruft's list names the files this option set generates.
    expected = [pattern.replace("*", "order_worker") for pattern in for_copier]
    assert sorted(for_cruft) == sorted(path for path in expected if (project / path).exists())
    assert all((project / path).is_file() for path in for_cruft)
