"""Bring this service up to a newer release of the template it was generated from.

`make template-update` runs this locally; the scheduled `template-update`
workflow runs it in CI. It uses copier when the project has
`.copier-answers.yml` and cruft when it has `.cruft.json`, refuses to start on
a dirty working tree, takes the newest release tag unless given `--ref`, and
lists every file left with conflicts. The template's own release rules
(`hooks/releases.py` in the template) refuse to cross a breaking release
without its migration and run the migrations: copier calls them itself; for
cruft, which cannot, this script calls them around `cruft update`.

Exit status: 0 updated or already up to date, 1 conflicts left to resolve,
2 refused (nothing was changed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIER_ANSWERS = ROOT / ".copier-answers.yml"
CRUFT_STATE = ROOT / ".cruft.json"
RELEASE_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


class RefusedError(Exception):
    """The update cannot start; nothing was changed."""


def run(*command: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RefusedError(f"`{' '.join(command)}` failed:\n{result.stdout}{result.stderr}".rstrip())
    return result.stdout


def stream(*command: str, cwd: Path = ROOT) -> None:
    """Run a command with its output shown; raise when it fails."""
    if subprocess.run(command, cwd=cwd, check=False).returncode:
        raise RefusedError(f"`{' '.join(command)}` failed; see its output above.")


def uncommitted() -> list[str]:
    return run("git", "status", "--porcelain").splitlines()


def conflicts() -> list[str]:
    """Files the update could not merge: unmerged in the index, or left as *.rej."""
    unmerged = run("git", "diff", "--name-only", "--diff-filter=U").split()
    untracked = run("git", "ls-files", "--others", "--exclude-standard").split()
    return sorted({*unmerged, *(path for path in untracked if path.endswith(".rej"))})


def version_of(tag: str) -> tuple[int, int, int]:
    match = RELEASE_TAG.fullmatch(tag)
    if not match:
        raise RefusedError(f"{tag!r} is not a template release tag like v1.2.3")
    return int(match[1]), int(match[2]), int(match[3])


def copier_update(ref: str | None) -> tuple[str, str]:
    """Update with copier; returns (release before, release after) from the answers file."""
    before = answered_commit()
    command = [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--conflict", "inline"]
    stream(*command, *(["--vcs-ref", ref] if ref else []))
    return before, answered_commit()


def answered_commit() -> str:
    match = re.search(r"^_commit:\s*(\S+)", COPIER_ANSWERS.read_text(encoding="utf-8"), re.MULTILINE)
    return match[1] if match else "unknown"


def cruft_update(ref: str | None) -> tuple[str, str]:
    """Update with cruft between release tags, with the template's release rules around it."""
    state = json.loads(CRUFT_STATE.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="template-") as scratch:
        template = Path(scratch)
        run("git", "clone", "--quiet", state["template"], str(template))
        tags = [tag for tag in run("git", "tag", "--list", cwd=template).split() if RELEASE_TAG.fullmatch(tag)]
        if not tags:
            raise RefusedError(f"the template {state['template']} has no release tags (v1.2.3); nothing to update to.")
        target = ref or max(tags, key=version_of)
        current = run("git", "describe", "--tags", "--abbrev=0", state["commit"], cwd=template).strip()
        if version_of(target) < version_of(current):
            raise RefusedError(f"this project is on template {current}; {target} is older: no downgrades.")
        run("git", "checkout", "--quiet", target, cwd=template)
        rules = [sys.executable, str(template / "hooks" / "releases.py")]
        stream(*rules, "check", current, target)
        stream(sys.executable, "-m", "cruft", "update", "--skip-apply-ask", "--checkout", target)
        # As copier does: migrations run even when files conflict, so resolving them finishes the job.
        stream(*rules, "migrate", current, target)
    return current, target


def report(status: str, before: str, after: str, conflicted: list[str]) -> None:
    """Say what happened; in GitHub Actions also as step outputs."""
    if status == "conflicts":
        print(f"\nUpdated {before} -> {after} with conflicts. Resolve these files, then commit:", file=sys.stderr)
        print("".join(f"  {path}\n" for path in conflicted), end="", file=sys.stderr)
    elif status == "updated":
        print(f"\nUpdated {before} -> {after}. Review `git diff`, run `make lint test`, commit.", file=sys.stderr)
    else:
        print(f"\nAlready on the newest template release ({after}).", file=sys.stderr)
    outputs = os.environ.get("GITHUB_OUTPUT")
    if outputs:
        with open(outputs, "a", encoding="utf-8") as handle:
            handle.write(f"status={status}\nfrom={before}\nto={after}\nconflicts={' '.join(conflicted)}\n")


def update(ref: str | None) -> int:
    dirty = uncommitted()
    if dirty:
        listing = "".join(f"  {line}\n" for line in dirty[:20])
        raise RefusedError(
            "the working tree has uncommitted changes; commit or stash them first, so the template "
            f"update arrives as one diff you can review (and undo with `git checkout .`):\n{listing}".rstrip()
        )
    if COPIER_ANSWERS.is_file():
        before, after = copier_update(ref)
    elif CRUFT_STATE.is_file():
        before, after = cruft_update(ref)
    else:
        raise RefusedError("no .copier-answers.yml or .cruft.json: nothing records which template this came from.")
    conflicted = conflicts()
    changed = bool(uncommitted())
    status = "conflicts" if conflicted else "updated" if changed else "up-to-date"
    report(status, before, after, conflicted)
    return 1 if conflicted else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="template release tag to update to (default: the newest)")
    parser.add_argument("--ci", action="store_true", help="exit 0 on conflicts; the workflow reports them")
    args = parser.parse_args(argv)
    try:
        status = update(args.ref)
    except RefusedError as refusal:
        print(f"template-update refused: {refusal}", file=sys.stderr)
        return 2
    return 0 if args.ci else status


if __name__ == "__main__":
    sys.exit(main())
