"""Template releases: which are breaking, and the migrations that carry a project across them.

The CHANGELOG is the one list of releases. A heading ``## X.Y.Z (breaking)``
marks a release that needs a migration: ``migrations/X.Y.Z.py``, run with the
generated project as its working directory after the update is applied. A
migration either makes the change itself or, when no script can, checks that
the team did it by hand and exits non-zero with the CHANGELOG's instructions.

copier runs this module through ``_migrations`` (copier.yml); cruft cannot run
migrations, so the generated project's ``scripts/template_update.py`` runs it
from a clone of the template around ``cruft update``. One runner, two engines.

Usage:
  python releases.py check FROM TO     refuse (exit 1) to cross a breaking release without its migration
  python releases.py migrate FROM TO   run every migration in (FROM, TO], oldest first, in the current directory
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^## (\d+)\.(\d+)\.(\d+)(\s+\(breaking\))?", re.MULTILINE)
VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")

Version = tuple[int, int, int]


def parse(text: str) -> Version:
    """The X.Y.Z at the start of a tag or PEP 440 version (``v1.2.3``, ``1.2.4.dev2+g0abc``)."""
    match = VERSION.match(text.strip())
    if not match:
        raise SystemExit(f"ERROR: {text!r} is not a template version like 1.2.3")
    return int(match[1]), int(match[2]), int(match[3])


def releases(template: Path = TEMPLATE) -> dict[Version, bool]:
    """Every release in the CHANGELOG -> whether it is breaking."""
    text = (template / "CHANGELOG.md").read_text(encoding="utf-8")
    return {(int(m[1]), int(m[2]), int(m[3])): bool(m[4]) for m in HEADING.finditer(text)}


def migration(version: Version, template: Path = TEMPLATE) -> Path:
    return template / "migrations" / f"{'.'.join(map(str, version))}.py"


def crossed(start: Version, end: Version, template: Path = TEMPLATE) -> list[Version]:
    """Releases after ``start`` up to and including ``end``, oldest first."""
    return sorted(version for version in releases(template) if start < version <= end)


def missing_migrations(start: Version, end: Version, template: Path = TEMPLATE) -> list[Version]:
    marked = releases(template)
    return [v for v in crossed(start, end, template) if marked[v] and not migration(v, template).is_file()]


def check(start: Version, end: Version, template: Path = TEMPLATE) -> int:
    missing = missing_migrations(start, end, template)
    for version in missing:
        name = ".".join(map(str, version))
        print(
            f"ERROR: refusing to update across breaking release {name}: the template ships no "
            f"migrations/{name}.py for it, so the project would be left half-changed. Nothing was changed. "
            f"Update to the last release before {name} instead (copier: --vcs-ref; make: REF=), "
            "and tell the template's maintainers.",
            file=sys.stderr,
        )
    return 1 if missing else 0


def migrate(start: Version, end: Version, template: Path = TEMPLATE) -> int:
    if check(start, end, template):
        return 1
    for version in crossed(start, end, template):
        script = migration(version, template)
        if not script.is_file():
            continue
        print(f"template migration {'.'.join(map(str, version))}: running {script.name}", file=sys.stderr)
        result = subprocess.run([sys.executable, str(script)], check=False)
        if result.returncode:
            print(f"ERROR: migration {script.name} failed (exit {result.returncode}); see above.", file=sys.stderr)
            return result.returncode
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("check", "migrate"):
        print(__doc__, file=sys.stderr)
        return 2
    command, start, end = argv[0], parse(argv[1]), parse(argv[2])
    return check(start, end) if command == "check" else migrate(start, end)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
