"""The command line: ``python -m {{ cookiecutter.package_name }} COMMAND``.

worker               run the worker until SIGINT or SIGTERM
enqueue NAME JSON    add one job and print its id
preflight            check the Redis server; exit non-zero when it is unfit
stats, retry-failed, clean, pause, resume, drain   operate the queue (ops.py)
{%- if cookiecutter.use_encryption %}
keys generate        print a new encryption key
keys rotate          re-encrypt queued jobs under the newest key
{%- endif %}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from . import {% if cookiecutter.use_encryption %}encryption, keys, {% endif %}logs, ops, preflight, supervisor
from .connections import producer_connection
from .producer import EnqueueError, Producer
from .settings import Settings, SettingsError

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
{%- if cookiecutter.use_encryption %}
        if getattr(args, "needs_keys", True) or settings.encryption_keys:
            encryption.keyring(settings)  # no keys, no start; parsed once for the whole process
{%- endif %}
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
{%- if cookiecutter.use_encryption %}
    logs.configure(settings, filters=[encryption.LogRedactor()])  # decrypted job values never reach the log
{%- else %}
    logs.configure(settings)
{%- endif %}
    return args.command(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.project_slug }}",
        description={{ cookiecutter.description | tojson }},
        epilog="Configuration comes from environment variables; see README.md.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", help="run the worker until SIGINT or SIGTERM")
    worker.set_defaults(command=_worker)

    enqueue = commands.add_parser("enqueue", help="add one job and print its id")
    enqueue.add_argument("name", help="job name, as registered with @handler")
    enqueue.add_argument("data", type=_json_object, help="job data as a JSON object")
    enqueue.add_argument("--job-id", help="custom job id (a job with an existing id is not added twice)")
    enqueue.add_argument("--delay", type=int, default=0, metavar="MS", help="delay before the job may run")
{%- if cookiecutter.use_encryption %}
    enqueue.add_argument("--sensitive", action="append", default=[], metavar="FIELD", help="encrypt this field too")
{%- endif %}
    enqueue.set_defaults(command=_enqueue)

    check = commands.add_parser("preflight", help="check the Redis server; non-zero exit when unfit")
    check.set_defaults(command=_preflight{% if cookiecutter.use_encryption %}, needs_keys=False{% endif %})
{%- if cookiecutter.use_encryption %}

    keys.add_commands(commands)
{%- endif %}
    ops.add_commands(commands)
    return parser


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("job data must be a JSON object, like '{\"key\": 1}'")
    return value


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    return supervisor.main(settings)  # WORKER_PROCESSES: one worker here, or a parent of several


def _enqueue(settings: Settings, args: argparse.Namespace) -> int:
    options = {key: value for key, value in (("jobId", args.job_id), ("delay", args.delay)) if value}
{%- if cookiecutter.use_encryption %}
    options["sensitive"] = args.sensitive
{%- endif %}

    async def add() -> str:
        async with Producer(settings) as producer:
            return await producer.enqueue(args.name, args.data, **options)

    try:
        print(asyncio.run(add()))
    except EnqueueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _preflight(settings: Settings, _args: argparse.Namespace) -> int:
    try:
        fit = asyncio.run(preflight.passes(settings, producer_connection(settings)))
    except Exception as error:
        print(f"error: cannot reach redis at {settings.redis_location}: {error}", file=sys.stderr)
        return 1
    print("redis is fit for bullmq" if fit else "redis is NOT fit for bullmq; see the errors above")
    return 0 if fit else preflight.EXIT_UNFIT


if __name__ == "__main__":
    sys.exit(main())
