"""Operator commands: look at the queue and repair it from a shell.

stats                       counts by state and the workers connected
retry-failed [--name NAME]  re-queue failed jobs (all, or one job name)
clean --age AGE             remove completed/failed jobs older than AGE
pause / resume              stop / restart processing for every worker
drain [--delayed] [--yes]   remove waiting jobs, after a confirmation

They talk to Redis through the producer connection, so an unreachable Redis
is an error within about a second, not a hang.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bullmq import Queue
from redis.exceptions import RedisError

from .connections import producer_connection
from .settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_DECLINED = 0, 1, 3
PAGE = 500  # jobs per Redis round trip in long operations
STATES = ("waiting", "prioritized", "delayed", "active", "waiting-children", "completed", "failed")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

Command = Callable[[Queue, argparse.Namespace], Awaitable[int]]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the operator commands to the CLI's subcommands."""

    def add(name: str, command: Command, summary: str, detail: str = "") -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=summary, description=f"{summary}. {detail}".strip())
        parser.set_defaults(command=_runner(command))
        return parser

    stats = add("stats", _stats, "print the queue's job counts by state and the workers connected")
    stats.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    retry = add(
        "retry-failed",
        _retry_failed,
        "move failed jobs back to waiting",
        "Each gets its full number of attempts again.",
    )
    retry.add_argument("--name", help="only jobs with this job name")

    clean = add("clean", _clean, "remove finished jobs older than an age", "Active and waiting jobs are never touched.")
    clean.add_argument("--age", type=age_ms, required=True, help="e.g. 90s, 30m, 12h, 7d (a bare number is seconds)")
    clean.add_argument("--state", choices=("completed", "failed", "both"), default="both", help="default: both")

    add("pause", _pause, "pause the queue: every worker stops taking new jobs (running jobs finish)")
    add("resume", _resume, "resume a paused queue")

    drain = add(
        "drain",
        _drain,
        "remove every waiting job",
        "Asks for confirmation on a terminal; elsewhere needs --yes. Active, completed and failed jobs stay.",
    )
    drain.add_argument("--delayed", action="store_true", help="remove delayed jobs too")
    drain.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def age_ms(text: str) -> int:
    """``90s``, ``30m``, ``12h``, ``7d`` or a bare number of seconds, as milliseconds."""
    match = _AGE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age like 90s, 30m, 12h or 7d")
    return round(float(match.group(1)) * _UNIT[match.group(2)] * 1000)


def _runner(command: Command) -> Callable[[Settings, argparse.Namespace], int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return asyncio.run(_with_queue(settings, command, args))
        except (RedisError, OSError) as error:
            print(f"error: cannot reach redis at {settings.redis_location}: {error}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("\ninterrupted; jobs already handled stay handled", file=sys.stderr)
            return 130

    return run


async def _with_queue(settings: Settings, command: Command, args: argparse.Namespace) -> int:
    client = producer_connection(settings)
    queue = Queue(settings.queue_name, {"connection": client, "prefix": settings.queue_prefix})
    try:
        return await command(queue, args)
    finally:
        try:
            await queue.close()
            await client.aclose()
        except RedisError:
            pass  # already failing; the command's own error is the one to report


async def _counts(queue: Queue) -> dict[str, int]:
    return await queue.getJobCounts(*STATES)


async def _stats(queue: Queue, args: argparse.Namespace) -> int:
    counts = await _counts(queue)
    paused = await queue.isPaused()
    workers = {client.get("rawname", ""): client for client in await queue.get_workers()}
    if args.json:
        print(json.dumps({"queue": queue.name, "paused": paused, "counts": counts, "workers": sorted(workers)}))
        return EXIT_OK
    print(f"queue {queue.name}{' (PAUSED)' if paused else ''}")
    for state in STATES:
        print(f"  {state:<17} {counts[state]:>10}")
    print(f"workers connected: {len(workers)}")
    for name, client in sorted(workers.items()):
        print(f"  {name}  addr={client.get('addr', '?')} age={client.get('age', '?')}s idle={client.get('idle', '?')}s")
    return EXIT_OK


async def _retry_failed(queue: Queue, args: argparse.Namespace) -> int:
    total = (await _counts(queue))["failed"]
    progress = Progress("retried", total)
    retried = skipped = 0
    # Oldest first; the set shrinks as jobs are retried, so the next page
    # starts after the jobs skipped so far. Stop at the count seen at the
    # start, so jobs failing meanwhile are not retried in a loop.
    while retried + skipped < total:
        page = await queue.getJobs(["failed"], skipped, skipped + PAGE - 1, asc=True)
        if not page:
            break
        for job in page[: total - retried - skipped]:
            if args.name is not None and job.name != args.name:
                skipped += 1
                continue
            await job.retry("failed", {"resetAttemptsMade": True})
            retried += 1
            progress.advance()
    progress.done()
    which = f" named {args.name!r}" if args.name is not None else ""
    print(f"re-queued {retried} failed job(s){which} in queue {queue.name}")
    return EXIT_OK


async def _clean(queue: Queue, args: argparse.Namespace) -> int:
    states = ("completed", "failed") if args.state == "both" else (args.state,)
    counts = await _counts(queue)
    progress = Progress("removed", sum(counts[state] for state in states))
    removed: dict[str, int] = {}
    for state in states:
        removed[state] = 0
        while True:
            batch = await queue.clean(args.age, PAGE, state)
            removed[state] += len(batch)
            progress.advance(len(batch))
            if len(batch) < PAGE:
                break
    progress.done()
    summary = ", ".join(f"{count} {state}" for state, count in removed.items())
    print(f"removed {summary} job(s) older than {args.age / 1000:g}s from queue {queue.name}")
    return EXIT_OK


async def _pause(queue: Queue, _args: argparse.Namespace) -> int:
    await queue.pause()
    print(f"queue {queue.name} paused: workers finish running jobs and take no new ones")
    return EXIT_OK


async def _resume(queue: Queue, _args: argparse.Namespace) -> int:
    await queue.resume()
    print(f"queue {queue.name} resumed")
    return EXIT_OK


async def _drain(queue: Queue, args: argparse.Namespace) -> int:
    counts = await _counts(queue)
    states = ("waiting", "prioritized", *(("delayed",) if args.delayed else ()))
    doomed = sum(counts[state] for state in states)
    question = f"remove {doomed} job(s) ({', '.join(states)}) from queue {queue.name}? This cannot be undone."
    if not args.yes and not await _confirm(question):
        return EXIT_DECLINED
    await queue.drain(args.delayed)
    print(f"drained queue {queue.name}: removed {doomed} job(s)")
    return EXIT_OK


async def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        print(f"error: {question}\nrefusing without a terminal to confirm on; pass --yes", file=sys.stderr)
        return False
    answer = await asyncio.to_thread(input, f"{question} [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing removed", file=sys.stderr)
    return False


class Progress:
    """Progress of a long command on stderr: a bar on a terminal; on a pipe or in a log, a plain
    line per tenth of the work and one at the end."""

    WIDTH = 30

    def __init__(self, verb: str, total: int, stream: TextIO | None = None) -> None:
        self.verb, self.total, self.count = verb, total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.tenths = 0  # plain lines written so far, in tenths of the total

    def advance(self, count: int = 1) -> None:
        self.count += count
        if self.tty:
            filled = self.WIDTH * min(self.count, self.total) // self.total if self.total else self.WIDTH
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {self.count}/{self.total} {self.verb}")
        elif self.count < self.total and (tenths := 10 * self.count // self.total) > self.tenths:
            self.tenths = tenths
            self.stream.write(f"{self.verb} {self.count} of {self.total}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.advance(0)
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.verb} {self.count} of {self.total}: done\n")
        self.stream.flush()
