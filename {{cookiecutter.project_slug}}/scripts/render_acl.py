"""Write ``users.acl`` for redis-server from ``users.acl.template`` and your passwords.

Redis ACL files allow no comments, so the rules are explained here and in
README.md. The template has three users:

- ``default``: off, so a client that does not log in can do nothing;
- the service user: only keys under the queue prefix and only the commands
  bullmq needs (found by running the whole test suite as this user). EVAL is
  there for Node BullMQ producers sharing the queue (ioredis falls back to it);
  it grants nothing SCRIPT LOAD + EVALSHA do not. SCRIPT EXISTS is how
  redis-py loads scripts before a pipeline (Producer.enqueue_bulk);
- ``admin``: everything, for operators (CONFIG, INFO, FLUSHALL, ACL ...).

Passwords are read from ``REDIS_SERVICE_PASSWORD`` and ``REDIS_ADMIN_PASSWORD``
(or ``*_FILE``, a path to a file holding one). The output holds only their
SHA-256 hashes, never the passwords. Nothing secret lives in the repository:
generate the passwords at deploy time, e.g. ``make secrets``.

Usage: python scripts/render_acl.py [--output users.acl] [--prefix bull]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "users.acl.template"
# Random passwords (e.g. secrets.token_urlsafe(32)) make the unsalted
# SHA-256 in the file impossible to reverse; short ones would not be.
MIN_PASSWORD_LENGTH = 20
# Characters that would let a prefix widen the key pattern or break the line.
UNSAFE_PREFIX = set("*?[]\\ \t\n")


class AclError(ValueError):
    """A password or prefix the ACL file cannot use."""


def password(name: str, env: dict[str, str]) -> str:
    path = env.get(f"{name}_FILE")
    value = Path(path).read_text(encoding="utf-8").strip() if path else env.get(name, "")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise AclError(f"{name} must be set (or {name}_FILE) to at least {MIN_PASSWORD_LENGTH} random characters")
    return value


def render(template: str, prefix: str, env: dict[str, str]) -> str:
    if not prefix or UNSAFE_PREFIX & set(prefix):
        raise AclError(f"queue prefix {prefix!r} must be non-empty, without glob characters or spaces")
    values = {
        "@QUEUE_PREFIX@": prefix,
        "@SERVICE_PASSWORD_SHA256@": _sha256(password("REDIS_SERVICE_PASSWORD", env)),
        "@ADMIN_PASSWORD_SHA256@": _sha256(password("REDIS_ADMIN_PASSWORD", env)),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render users.acl from users.acl.template.")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--output", type=Path, default=ROOT / "users.acl")
    parser.add_argument(
        "--prefix",
        default=os.environ.get("QUEUE_PREFIX", "bull"),
        help="the service's QUEUE_PREFIX (default: $QUEUE_PREFIX or bull)",
    )
    args = parser.parse_args(argv)
    try:
        text = render(args.template.read_text(encoding="utf-8"), args.prefix, dict(os.environ))
    except (AclError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # Readable by the redis user inside a container; it holds hashes only.
    args.output.write_text(text, encoding="utf-8")
    args.output.chmod(0o644)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
