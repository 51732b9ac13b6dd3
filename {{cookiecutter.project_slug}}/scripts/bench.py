"""Benchmark: this service against plain bullmq (and Node BullMQ), side by side in one run.

    python scripts/bench.py            # full run, under 3 minutes
    python scripts/bench.py --quick    # under 30 seconds: proves the script works, numbers are rough

It starts its own redis-server on a free port and measures, for no-op jobs and
10 ms async jobs at concurrency 1 and 50:

  a  the minimal plain bullmq worker from bullmq's documentation, default settings
  b  this service's worker with its production defaults (listeners, INFO logs)
  c  this service with WORKER_PROCESSES=auto
  d  Node BullMQ, when node and npm are installed (nodebullmq.py installs it into a cache dir)

then enqueue rates (plain Queue vs the service's Producer), and how long a
worker takes to complete a job after Redis comes back from an outage. Only
ratios from one run mean anything: machines are noisy.

Method: every variant's worker is started and waits on its own paused queue.
In each round, for each variant in turn, jobs are added to its paused queue,
the queue is resumed, and the rate is the jobs finished per second until the
queue is drained or the time box ends; the queue is paused again and drained.
Each variant's figure is the median of its rounds. Worker start-up is not
measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bullmq
import redis
import redis.asyncio as aioredis
from bullmq import Queue, Worker

SCRIPTS = Path(__file__).resolve().parent
PROJECT = SCRIPTS.parent
sys.path[:0] = [str(PROJECT / "src")]  # the package, whether or not the project is installed

import localredis  # noqa: E402
import localservice  # noqa: E402
import nodebullmq  # noqa: E402

PACKAGE = localservice.PACKAGE

# Where Node BullMQ is installed (default: nodebullmq.py's cache directory).
CACHE = Path(os.environ["BENCH_CACHE"]) if os.environ.get("BENCH_CACHE") else None
KINDS = ("noop", "sleep")
CONCURRENCIES = (1, 50)


@dataclass(frozen=True)
class Mode:
    window: float  # seconds one throughput time box may take at most
    rounds: int  # time boxes per variant; the median counts
    kinds: tuple[str, ...]
    concurrencies: tuple[int, ...]
    enqueue_jobs: int
    outages: tuple[float, ...]  # one recovery trial per outage length (seconds)
    node: bool


FULL = Mode(
    window=1.5,
    rounds=3,
    kinds=KINDS,
    concurrencies=CONCURRENCIES,
    enqueue_jobs=2000,
    outages=(2, 3, 4),
    node=True,
)
QUICK = Mode(window=1.0, rounds=1, kinds=("noop",), concurrencies=(50,), enqueue_jobs=200, outages=(1,), node=False)


# --- a Redis server and worker processes the benchmark owns ---


class Run:
    """One worker variant as a child process."""

    def __init__(self, variant: str, url: str, queue: str, kind: str, concurrency: int, logs: Path) -> None:
        self.variant = variant
        self.command, env = _command(variant, url, queue, kind, concurrency)
        self.log = open(logs / f"{queue}.log", "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(self.command, env=env, cwd=PROJECT, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _command(variant: str, url: str, queue: str, kind: str, concurrency: int) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if variant == "a":
        return [sys.executable, __file__, "plain-worker", url, queue, kind, str(concurrency)], env
    if variant == "d":
        env["BULLMQ_MODULE"] = str(nodebullmq.node_modules(CACHE) / "bullmq")
        return ["node", str(SCRIPTS / "bench_node.cjs"), url, queue, kind, str(concurrency)], env
    env = localservice.service_env(
        url,
        paths=[SCRIPTS],
        QUEUE_NAME=queue,
        WORKER_CONCURRENCY=str(concurrency),
        HANDLER_MODULES=f"{PACKAGE}.jobs,bench_handlers",
        WORKER_PROCESSES="auto" if variant == "c" else "1",
    )
    return [sys.executable, "-m", PACKAGE, "worker"], env


def workers_expected(variant: str) -> int:
    return (os.cpu_count() or 1) if variant == "c" else 1


# --- measurements ---


async def throughputs(
    client: aioredis.Redis, url: str, variants: tuple[str, ...], kind: str, concurrency: int, mode: Mode, logs: Path
) -> tuple[dict[str, float], dict[str, float]]:
    """Median jobs/s and worker CPU ms per job of each variant over ``mode.rounds`` time boxes.

    Every variant's worker runs the whole time (idle ones block in Redis and
    use no CPU); the rounds alternate between them, so a burst of load from
    elsewhere on the machine hits all of them alike.
    """
    runs: dict[str, Run] = {}
    queues: dict[str, Queue] = {}
    rates: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    try:
        for variant in variants:
            queue_name = f"bench-{variant}-{kind}-{concurrency}"
            queues[variant] = Queue(queue_name, {"connection": client})
            await queues[variant].pause()
            baseline = (await client.info("clients"))["blocked_clients"]
            runs[variant] = Run(variant, url, queue_name, kind, concurrency, logs)
            await _until_blocked(client, baseline + workers_expected(variant), runs[variant])
        jobs = {variant: _first_guess(variant, kind, concurrency, mode) for variant in variants}
        for _round in range(mode.rounds):
            for variant in variants:
                before = process_cpu(runs[variant].process.pid)
                rate, done = await _time_box(client, queues[variant], f"bench-{kind}", jobs[variant], mode.window)
                rates[variant].append(rate)
                cpu[variant].append((process_cpu(runs[variant].process.pid) - before) * 1000 / max(done, 1))
                jobs[variant] = max(50, int(rate * mode.window * 1.5))  # enough for the next box
    finally:
        for run in runs.values():
            run.stop()
    for variant, queue in queues.items():
        if failed := await client.zcard(f"bull:{queue.name}:failed"):
            print(f"  warning: {failed} jobs failed in variant {variant}; see {logs}", flush=True)
    await client.flushdb()
    return {variant: statistics.median(rates[variant]) for variant in variants}, {
        variant: statistics.median(cpu[variant]) for variant in variants
    }


async def _time_box(client: aioredis.Redis, queue: Queue, name: str, total: int, window: float) -> tuple[float, int]:
    """Queue ``total`` jobs paused, resume, count jobs finished until drained or ``window`` ends."""
    for start in range(0, total, 1000):
        await queue.addBulk([{"name": name, "data": {}} for _ in range(min(1000, total - start))])
    await queue.resume()
    # The clock starts when the worker takes its first job. An idle plain bullmq
    # worker may be reconnecting and wake late: redis-py's default 5 s socket
    # timeout ends each of bullmq's blocking waits for a job with a reconnect.
    # That is pick-up latency, tested apart, not throughput.
    wake_deadline = time.monotonic() + 15
    while (remaining := await _remaining(client, queue.name)) == total and time.monotonic() < wake_deadline:
        await _nudge(client, queue.name)
        await asyncio.sleep(0.005)
    began, first = time.monotonic(), remaining
    while remaining and time.monotonic() - began < window:
        await asyncio.sleep(0.01)
        await _nudge(client, queue.name)
        remaining = await _remaining(client, queue.name)
    elapsed = time.monotonic() - began
    # Stop the worker taking more, let in-flight jobs finish, drop the rest.
    await queue.pause()
    for _tick in range(1000):  # at most 10 s
        if not await client.llen(f"bull:{queue.name}:active"):
            break
        await asyncio.sleep(0.01)
    await queue.drain()
    return (first - remaining) / elapsed, total - remaining


async def _nudge(client: aioredis.Redis, queue: str) -> None:
    # Resuming sets one wake-up marker, and one BZPOPMIN takes it: other idle
    # worker processes would sleep through the box. In production every add
    # sets the marker again; this does the same.
    await client.zadd(f"bull:{queue}:marker", {"0": 0})


def _over(top: float, bottom: float) -> str:
    return f"{top / bottom:7.2f}" if bottom else "    n/a"


def process_cpu(pid: int) -> float:
    """CPU seconds used by ``pid`` and its descendants (Linux /proc; 0 elsewhere).

    Less noisy than jobs/s on a shared machine: other load slows a worker
    down but does not make it use more CPU per job.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = " ".join(path.read_text() for path in Path(f"/proc/{pid}/task").glob("*/children")).split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu(int(child)) for child in children)


def _first_guess(variant: str, kind: str, concurrency: int, mode: Mode) -> int:
    """Enough jobs to keep the fastest expected worker busy for the first time box."""
    per_second = 10_000 if variant == "d" else 2_500 * workers_expected(variant)
    if kind == "sleep":
        per_second = min(per_second, 100 * concurrency * workers_expected(variant))
    return max(50, int(per_second * mode.window * 1.2))


async def _until_blocked(client: aioredis.Redis, blocked: int, run: Run) -> None:
    """Wait until every worker waits for jobs (blocked in BZPOPMIN on the paused queue)."""
    deadline = time.monotonic() + 60
    while (await client.info("clients"))["blocked_clients"] < blocked:
        if run.process.poll() is not None:
            raise RuntimeError(f"{run.command} exited with {run.process.returncode}; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{run.command} did not start waiting for jobs within 60 s")
        await asyncio.sleep(0.02)


async def _remaining(client: aioredis.Redis, queue: str) -> int:
    async with client.pipeline(transaction=False) as pipe:
        pipe.llen(f"bull:{queue}:wait").llen(f"bull:{queue}:active").llen(f"bull:{queue}:paused")
        return sum(await pipe.execute())


async def enqueue_rates(url: str, jobs: int) -> dict[str, Rate | None]:
    """Jobs added per second: plain bullmq Queue vs this service's Producer, one at a time and in bulk."""
    os.environ.update(REDIS_URL=url, QUEUE_NAME="bench-enqueue")
    from {{ cookiecutter.package_name }}.producer import Producer
    from {{ cookiecutter.package_name }}.settings import Settings

    batch = [{"name": "bench-noop", "data": {"order": index, "note": "x" * 100}} for index in range(jobs)]
    rates: dict[str, Rate | None] = {}
    queue = Queue("bench-enqueue", {"connection": url})
    rates["plain single"] = await _rate(jobs, lambda: _one_by_one(queue.add, batch))
    rates["plain bulk"] = await _rate(jobs, lambda: _in_chunks(queue.addBulk, batch))
    await queue.close()

    async with Producer(Settings.from_env()) as producer:
        rates["service single"] = await _rate(jobs, lambda: _one_by_one(producer.enqueue, batch))
        triples = [(job["name"], job["data"], {}) for job in batch]
        rates["service bulk"] = await _rate(jobs, lambda: _in_chunks(producer.enqueue_bulk, triples))
    rates["service single, encrypted"] = await _encrypted_rate(jobs, batch)
    return rates


async def _encrypted_rate(jobs: int, batch: list[dict]) -> Rate | None:
    """The same single enqueues with one field ("note") sealed under a throw-away key."""
{%- if cookiecutter.use_encryption %}
    from {{ cookiecutter.package_name }}.producer import Producer
    from {{ cookiecutter.package_name }}.settings import Settings

    async def sealed(name: str, data: dict) -> str:
        return await producer.enqueue(name, data, sensitive=["note"])

    async with Producer(Settings.from_env({**os.environ, "ENCRYPTION_KEYS": localservice.SESSION_KEY})) as producer:
        return await _rate(jobs, lambda: _one_by_one(sealed, batch))
{%- else %}
    print("  encryption: not generated (use_encryption was no); skipped", flush=True)
    return None
{%- endif %}


async def _in_chunks(add_bulk, jobs: list, size: int = 1000) -> None:
    for start in range(0, len(jobs), size):
        await add_bulk(jobs[start : start + size])


async def _one_by_one(add, batch: list[dict]) -> None:
    for job in batch:
        await add(job["name"], job["data"])


@dataclass(frozen=True)
class Rate:
    per_second: float
    cpu_us: float  # the enqueuing process's CPU per job: steadier than jobs/s on a busy machine

    def __str__(self) -> str:
        return f"{self.per_second:8.0f} ({self.cpu_us:.0f})"


async def _rate(jobs: int, work) -> Rate:
    began, cpu = time.monotonic(), time.process_time()
    await work()
    return Rate(jobs / (time.monotonic() - began), (time.process_time() - cpu) * 1e6 / jobs)


async def recovery(workdir: Path, variant: str, mode: Mode, logs: Path) -> list[float]:
    """Seconds from Redis answering again after an outage to a new job being completed."""
    times = []
    for trial, outage in enumerate(mode.outages):
        server = localredis.RedisServer(workdir / f"recovery-{variant}-{trial}").start()
        client = aioredis.Redis(port=server.port, decode_responses=True)
        run = Run(variant, server.url, f"bench-recovery-{variant}-{trial}", "noop", 1, logs)
        try:
            await _until_blocked(client, 1, run)
            await client.aclose()
            server.kill()
            await asyncio.sleep(outage)
            server.start()
            up = time.monotonic()
            client = aioredis.Redis(port=server.port, decode_responses=True)
            queue = Queue(f"bench-recovery-{variant}-{trial}", {"connection": client})
            job = await queue.add("bench-noop", {})
            while await client.zscore(f"bull:{queue.name}:completed", job.id) is None:
                if time.monotonic() - up > 60:
                    raise RuntimeError(f"variant {variant}: no job completed within 60 s of Redis returning")
                await asyncio.sleep(0.01)
            times.append(time.monotonic() - up)
        finally:
            run.stop()
            await client.aclose()
            server.kill()
    return times


# --- the report ---


async def bench(mode: Mode) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    logs = workdir / "logs"
    logs.mkdir()
    server = localredis.RedisServer(workdir).start()
    client = aioredis.Redis(port=server.port, decode_responses=True)
    node = mode.node and nodebullmq.available()
    variants = ("a", "b", "c", "d") if node else ("a", "b", "c")
    try:
        info = await client.info("server")
        print(
            f"bullmq {bullmq.__version__}, redis-py {redis.__version__}, Redis {info['redis_version']}, "
            f"{os.cpu_count()} CPUs, WORKER_PROCESSES=auto -> {workers_expected('c')}, "
            + (f"Node bullmq {nodebullmq.VERSION}" if node else "Node: skipped (--quick, or no node/npm)")
        )
        ratios = "      b/a      c/a" + ("      b/d" if node else "")
        print("\njobs/s (worker CPU ms/job)" + "".join(f"{v:>15}" for v in variants) + ratios)
        for kind in mode.kinds:
            for concurrency in mode.concurrencies:
                rates, cpu = await throughputs(client, server.url, variants, kind, concurrency, mode, logs)
                row = f"{kind:>5} c={concurrency:<3}             "
                row += "".join(f"{rates[v]:7.0f} ({cpu[v]:.2f})" for v in variants)
                row += f"  {_over(rates['b'], rates['a'])}  {_over(rates['c'], rates['a'])}"
                row += f"  {_over(rates['b'], rates['d'])}" if node else ""
                print(row, flush=True)

        rates = await enqueue_rates(server.url, mode.enqueue_jobs)
        await client.flushdb()
        print(f"\nenqueue jobs/s (producer CPU µs/job), {mode.enqueue_jobs} jobs each")
        for name, rate in rates.items():
            print(f"  {name:<28}{'n/a' if rate is None else rate}")
        _ratio("  service/plain, single", rates["service single"], rates["plain single"])
        _ratio("  service/plain, bulk", rates["service bulk"], rates["plain bulk"])
        _ratio("  encrypted/unencrypted, single", rates["service single, encrypted"], rates["service single"])

        outages = ", ".join(f"{outage:g}" for outage in mode.outages)
        print(f"\nrecovery: seconds from Redis back (after outages of {outages} s) to the next job completed")
        for variant in ("b",) if mode is QUICK else ("a", "b"):
            times = await recovery(workdir, variant, mode, logs)
            label = {"a": "plain bullmq", "b": "this service"}[variant]
            print(f"  {label:<14} median {statistics.median(times):.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
    finally:
        await client.aclose()
        server.kill()
    shutil.rmtree(workdir, ignore_errors=True)


def _ratio(label: str, top: Rate | None, bottom: Rate | None) -> None:
    ratio = "n/a" if top is None or bottom is None else f"{top.per_second / bottom.per_second:.2f}"
    print(f"{label:<34}{ratio}")


# --- variant a: the worker from bullmq's documentation, as written there ---


def plain_worker(url: str, queue: str, kind: str, concurrency: int) -> None:
    async def process(job, job_token):
        if kind == "sleep":
            await asyncio.sleep(0.01)

    async def main():
        shutdown_event = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, shutdown_event.set)
        worker = Worker(queue, process, {"connection": url, "concurrency": concurrency})
        await shutdown_event.wait()
        await worker.close()

    asyncio.run(main())


def main() -> None:
    if sys.argv[1:2] == ["plain-worker"]:
        url, queue, kind, concurrency = sys.argv[2:6]
        plain_worker(url, queue, kind, int(concurrency))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a rough run under 30 s that proves the script works")
    args = parser.parse_args()
    began = time.monotonic()
    asyncio.run(bench(QUICK if args.quick else FULL))
    print(f"\nfinished in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
