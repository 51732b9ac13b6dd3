"""Chaos drill: evidence that the service loses no acknowledged job while faults pile up.

    python scripts/chaos.py                # 5,000 jobs, 3 of each fault; under 3 minutes
    python scripts/chaos.py --quick        # 800 jobs, 1 of each fault; under 45 seconds
    python scripts/chaos.py --seed 1234    # replay the fault schedule of an earlier run
    python scripts/chaos.py --soak         # 100,000 no-op jobs through one worker; memory growth
    python scripts/chaos.py --redis-config "appendonly no"   # see the drill catch lost jobs

It starts its own redis-server on the generated redis.conf (AOF, fsync every
second), the service with two worker processes, and a producer adding jobs
with unique ids at a steady rate. Meanwhile, at seeded random moments, it
kills Redis with SIGKILL and restarts it on the same files, SIGKILLs one
worker process, SIGTERMs the service and starts it again, and freezes Redis
with SIGSTOP for a few seconds (a network partition) before SIGCONT. Then it
waits for the queue to drain and prints one summary line; the exit code is
non-zero when a durably acknowledged job was lost, is stuck, or failed.

Acknowledged means the producer's add returned. With `appendfsync everysec`
Redis writes to disk once a second, so a job acknowledged less than
FSYNC_WINDOW seconds before a kill -9 may vanish without any defect: such jobs
are counted apart (lost_in_fsync_window) and do not fail the drill. Every
other acknowledged job is durable and must complete.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# The package, whether or not the project is installed.
sys.path[:0] = [str(PROJECT / "src")]

from chaos_service import WORKERS, QueueKeys, Workers, redis_server, run_env  # noqa: E402
from chaos_soak import run_soak  # noqa: E402

from {{ cookiecutter.package_name }}.producer import EnqueueError, Producer  # noqa: E402
from {{ cookiecutter.package_name }}.settings import Settings  # noqa: E402

FAULTS = ("redis-kill", "worker-kill", "service-restart", "redis-pause")
# appendfsync everysec: Redis promises at most one second of writes lost on a
# crash, two when a slow fsync makes it postpone the next one.
FSYNC_WINDOW = 2.0
# Short locks so a SIGKILLed worker's jobs come back within seconds (the
# defaults, 30 s, would take a minute). A pause must stay below half the lock
# (the renewal interval), or every active job would lose its lock.
LOCK_DURATION_MS = 8000
STALLED_INTERVAL_MS = 2000
SHUTDOWN_TIMEOUT = 5
DURATIONS = {"redis-kill": (0.5, 2.0), "redis-pause": (2.0, 3.5)}  # seconds Redis is down / frozen
JOB_SECONDS = (0.05, 0.25)  # how long each job works: long enough to be caught in flight


@dataclass(frozen=True)
class Mode:
    jobs: int
    produce_seconds: float
    faults_each: int
    drain_seconds: float


DRILL = Mode(jobs=5000, produce_seconds=100, faults_each=3, drain_seconds=50)
QUICK = Mode(jobs=800, produce_seconds=18, faults_each=1, drain_seconds=18)


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the producer starts
    kind: str
    seconds: float = 0.0  # how long Redis stays down or frozen


@dataclass
class Injected:
    kind: str
    started: float  # time.time()
    ended: float = 0.0
    restarted: float = 0.0  # redis-kill: when the new server was started
    exit_codes: list = field(default_factory=list)  # service-restart


def plan(rng: random.Random, mode: Mode, counts: dict[str, int]) -> list[Fault]:
    """Faults in random order at random moments, at least a few seconds apart."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(kinds)
    start, end = 2.0, mode.produce_seconds - 2.0
    gap = (end - start) / max(len(kinds), 1)  # each fault gets its own slot...
    # ...and a random moment in it; sorted, so consecutive faults are at least a slot apart.
    offsets = sorted(rng.uniform(0, gap) for _ in kinds)
    return [
        Fault(start + index * gap + offset, kind, round(rng.uniform(*DURATIONS.get(kind, (0, 0))), 2))
        for index, (offset, kind) in enumerate(zip(offsets, kinds, strict=True))
    ]


class Feeder(threading.Thread):
    """The producer: adds jobs with unique ids at a steady rate, retrying each until acknowledged."""

    def __init__(self, settings: Settings, mode: Mode, seed: int) -> None:
        super().__init__(name="feeder", daemon=True)
        self.settings = settings
        self.mode = mode
        self.seed = seed
        self.acks: dict[str, float] = {}  # job id -> when its add returned (time.time())
        self.refused = 0  # adds that raised (Redis down or frozen) and were retried
        self.error: BaseException | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self.produce())
        except BaseException as error:  # reported by the drill, never lost in a thread
            self.error = error

    async def produce(self) -> None:
        rate = self.mode.jobs / self.mode.produce_seconds
        async with Producer(self.settings) as producer:
            began = time.monotonic()
            for number in range(self.mode.jobs):
                # Steady rate; after an outage, catch up as fast as Redis allows.
                await asyncio.sleep(max(0.0, began + number / rate - time.monotonic()))
                await self.add(producer, number)

    async def add(self, producer: Producer, number: int) -> None:
        job_id = f"chaos-{number}"
        job_rng = random.Random(self.seed * 1_000_003 + number)  # noqa: S311  (a replayable schedule, not a secret)
        seconds = round(job_rng.uniform(*JOB_SECONDS), 3)
        while not self.stopping.is_set():
            try:
                # The same id again is a no-op in BullMQ: a retry never adds a second job.
                await producer.enqueue("chaos-record", {"seconds": seconds}, jobId=job_id)
            except EnqueueError:
                self.refused += 1
                await asyncio.sleep(0.1)
                continue
            self.acks[job_id] = time.time()
            return


class Drill:
    """Injects faults into a running service and its Redis, and keeps the record."""

    def __init__(self, server, workers: Workers, rng: random.Random) -> None:
        self.server = server
        self.workers = workers
        self.rng = rng
        self.injected: list[Injected] = []

    def inject(self, fault: Fault) -> Injected:
        record = Injected(fault.kind, time.time())
        actions = {
            "redis-kill": self.redis_kill,
            "redis-pause": self.redis_pause,
            "worker-kill": self.worker_kill,
            "service-restart": self.service_restart,
        }
        actions[fault.kind](fault, record)
        record.ended = time.time()
        self.injected.append(record)
        return record

    def redis_kill(self, fault: Fault, record: Injected) -> None:
        self.server.kill()  # SIGKILL: no shutdown save, no final fsync
        time.sleep(fault.seconds)  # the outage itself, not a wait for a condition
        record.restarted = time.time()
        self.server.start()  # same port, same dir: loads the AOF

    def redis_pause(self, fault: Fault, _record: Injected) -> None:
        self.server.pause()
        try:
            time.sleep(fault.seconds)  # the freeze itself
        finally:
            self.server.resume()

    def worker_kill(self, _fault: Fault, _record: Injected) -> None:
        self.workers.kill_one(self.rng, timeout=30)

    def service_restart(self, _fault: Fault, record: Injected) -> None:
        record.exit_codes = self.workers.terminate(SHUTDOWN_TIMEOUT + 10)
        self.workers.start()


@dataclass
class Tally:
    acknowledged: int = 0
    at_risk: int = 0  # acknowledged within FSYNC_WINDOW before a kill -9
    completed: int = 0
    failed: int = 0
    stuck_active: int = 0
    pending: int = 0  # still waiting or delayed at the deadline
    lost: int = 0
    lost_in_fsync_window: int = 0
    repeated: int = 0  # jobs whose handler ran more than once
    causes: Counter = field(default_factory=Counter)

    @property
    def passed(self) -> bool:
        return not (self.lost or self.stuck_active or self.pending or self.failed)


def tally(client, keys: QueueKeys, acks: dict[str, float], injected: list[Injected], ledger: Path) -> Tally:
    crashes = [fault for fault in injected if fault.kind == "redis-kill"]
    completed, failed, active = (keys.members(client, name) for name in ("completed", "failed", "active"))
    pending = set().union(*(keys.members(client, name) for name in ("wait", "paused", "delayed", "prioritized")))
    result = Tally(acknowledged=len(acks))
    for job_id, acked in acks.items():
        # An ack the old server sent before it died, less than FSYNC_WINDOW before the kill.
        risky = any(crash.started - FSYNC_WINDOW <= acked < crash.restarted for crash in crashes)
        result.at_risk += risky
        if job_id in completed:
            result.completed += 1
        elif job_id in failed:
            result.failed += 1
        elif job_id in active:
            result.stuck_active += 1
        elif job_id in pending:
            result.pending += 1
        elif risky:
            result.lost_in_fsync_window += 1
        else:
            result.lost += 1
    for starts in executions(ledger).values():
        if len(starts) > 1:
            result.repeated += 1
            result.causes.update(cause(starts, injected))
    return result


def executions(ledger: Path) -> dict[str, list[float]]:
    """Job id -> start time of each execution, from the handlers' ledger."""
    runs: dict[str, list[float]] = {}
    if ledger.exists():
        for line in ledger.read_text().splitlines():
            job_id, _pid, started = line.split()
            runs.setdefault(job_id, []).append(float(started))
    return {job_id: sorted(starts) for job_id, starts in runs.items()}


def cause(starts: list[float], injected: list[Injected]) -> list[str]:
    """For each repeat, the fault that interrupted the execution before it: the first one after it began."""
    found = []
    for before, after in itertools.pairwise(starts):
        between = [fault.kind for fault in injected if before <= fault.started <= after]
        found.append(between[0] if between else "unexplained")
    return found


def summary(result: Tally, drill: Drill, feeder: Feeder, workers: Workers, seed: int, wall: float) -> str:
    faults = Counter(fault.kind for fault in drill.injected)
    causes = ", ".join(f"{kind} {count}" for kind, count in result.causes.most_common()) or "none"
    exits = ",".join(str(code) for fault in drill.injected for code in fault.exit_codes) or "-"
    return (
        f"chaos summary: {'PASS' if result.passed else 'FAIL'} seed={seed} "
        f"acknowledged={result.acknowledged}/{feeder.mode.jobs} completed={result.completed} "
        f"lost={result.lost} at_risk={result.at_risk} lost_in_fsync_window={result.lost_in_fsync_window} "
        f"executed_more_than_once={result.repeated} (at-least-once after: {causes}) "
        f"stuck_active={result.stuck_active} pending={result.pending} failed={result.failed} "
        f"worker_restarts={max(workers.started() - WORKERS, 0)} redis_restarts={faults['redis-kill']} "
        f"faults={','.join(f'{kind}:{faults[kind]}' for kind in FAULTS)} sigterm_exits={exits} "
        f"adds_refused={feeder.refused} wall={wall:.1f}s"
    )


LEGEND = (
    "chaos legend: acknowledged = the producer's add returned; lost = acknowledged more than "
    f"{FSYNC_WINDOW:g} s before any kill -9 of Redis, yet never completed (must be 0); at_risk / "
    f"lost_in_fsync_window = acknowledged less than {FSYNC_WINDOW:g} s before a kill -9, which appendfsync "
    "everysec may legitimately lose; executed_more_than_once = handler started again after a fault "
    "(at-least-once delivery: handlers must be idempotent); stuck_active / pending = still active / waiting "
    "after the drain deadline (must be 0); failed must be 0 (the drill's handler never raises)."
)


def run_drill(args: argparse.Namespace, mode: Mode, workdir: Path) -> bool:
    began = time.monotonic()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)  # noqa: S311  (a replayable schedule, not a secret)
    counts = args.faults or dict.fromkeys(FAULTS, mode.faults_each)
    schedule = plan(rng, mode, counts)
    say(
        f"seed={seed} jobs={mode.jobs} over {mode.produce_seconds:g}s, faults {dict(counts)}, "
        f"workers: WORKER_PROCESSES={WORKERS}, logs in {workdir}"
    )
    server = redis_server(workdir / "redis", config_overrides(args.redis_config))
    env = run_env(
        server.url,
        "chaos",
        CHAOS_LEDGER=str(workdir / "ledger.txt"),
        WORKER_CONCURRENCY="10",
        LOCK_DURATION_MS=str(LOCK_DURATION_MS),
        STALLED_INTERVAL_MS=str(STALLED_INTERVAL_MS),
        SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
        PRODUCER_TIMEOUT="1",
        KEEP_COMPLETED_COUNT=str(mode.jobs * 2),  # keep every job: the tally reads their final state
        KEEP_COMPLETED_AGE="86400",
    )
    settings = Settings.from_env(env)
    server.start()
    workers = Workers(env, workdir / "service.log").start()
    drill = Drill(server, workers, rng)
    feeder = Feeder(settings, mode, seed)
    try:
        workers.wait_ready(0, 30)
        feeder.start()
        started = time.time()
        for fault in schedule:
            time.sleep(max(0.0, started + fault.at - time.time()))
            record = drill.inject(fault)
            say(f"{record.started - started:6.1f}s {fault.kind} ({record.ended - record.started:.1f}s)")
        feeder.join(mode.produce_seconds * 2)
        say(f"{time.time() - started:6.1f}s producer done: {len(feeder.acks)} acknowledged; draining")
        keys = QueueKeys(settings)
        drained = wait_for_drain(server.client(), keys, mode.drain_seconds)
        say(f"{time.time() - started:6.1f}s {'drained' if drained else 'NOT drained by the deadline'}")
        result = tally(server.client(), keys, feeder.acks, drill.injected, workdir / "ledger.txt")
    finally:
        feeder.stopping.set()
        server.resume()
        workers.terminate(SHUTDOWN_TIMEOUT + 10)
        server.stop()
    if feeder.error is not None:
        say(f"producer crashed: {feeder.error!r}")
    passed = result.passed and feeder.error is None and len(feeder.acks) == mode.jobs
    print(summary(result, drill, feeder, workers, seed, time.monotonic() - began), flush=True)
    print(LEGEND, flush=True)
    return passed


def wait_for_drain(client, keys: QueueKeys, deadline: float) -> bool:
    end = time.monotonic() + deadline
    while keys.unfinished(client):
        if time.monotonic() > end:
            return False
        time.sleep(0.2)
    return True


def config_overrides(lines: list[str]) -> tuple[str, ...]:
    """redis.conf lines ("appendonly no") as redis-server arguments (--appendonly no)."""
    return tuple(arg for line in lines for directive, *values in [line.split()] for arg in (f"--{directive}", *values))


def say(message: str) -> None:
    print(f"chaos: {message}", flush=True)


def fault_counts(text: str) -> dict[str, int]:
    counts = dict.fromkeys(FAULTS, 0)
    for part in text.split(","):
        kind, _, count = part.partition("=")
        if kind.strip() not in counts or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected KIND=COUNT,... with KIND one of {', '.join(FAULTS)}")
        counts[kind.strip()] = int(count)
    return counts


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short drill (under 45 s): 1 of each fault")
    parser.add_argument("--seed", type=int, help="replay a fault schedule (printed by every run)")
    parser.add_argument("--jobs", type=int, help="jobs to add (drill: 5000, soak: 100000)")
    parser.add_argument("--faults", type=fault_counts, help="e.g. redis-kill=3,worker-kill=1 (others 0)")
    parser.add_argument(
        "--redis-config",
        action="append",
        default=[],
        metavar="'DIRECTIVE VALUE'",
        help="override a redis.conf directive for this run, e.g. 'appendonly no' (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and data even when the run passes")
    parser.add_argument("--soak", action="store_true", help="the soak: no-op jobs through one worker, memory growth")
    parser.add_argument("--sample-every", type=float, default=5.0, help="soak: seconds between memory samples")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="soak-" if args.soak else "chaos-"))
    logging.basicConfig(filename=workdir / "drill.log", level=logging.INFO)
    if args.soak:
        passed = run_soak(args.jobs or 100_000, args.sample_every, workdir)
    else:
        mode = QUICK if args.quick else DRILL
        if args.jobs:
            mode = Mode(args.jobs, mode.produce_seconds, mode.faults_each, mode.drain_seconds)
        passed = run_drill(args, mode, workdir)
    if passed and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs and data kept in {workdir}", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
