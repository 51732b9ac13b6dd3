"""WORKER_PROCESSES: one parent that runs N worker processes and keeps them running.

Python bullmq spends about 0.7 ms of CPU per job, so one process saturates one
core; more processes are how one machine does more jobs. The parent does no
queue work. It:

- forwards SIGINT/SIGTERM to every child (children run in their own process
  group, so a Ctrl-C in a terminal reaches each child once, through the parent,
  and a second Ctrl-C still means "force");
- restarts a child that dies unexpectedly, after a backoff that doubles
  (WORKER_RESTART_DELAY, 1 s, 2 s, 4 s, ... at most 30 s);
- gives up loudly after WORKER_RESTART_LIMIT failures in a row, each within
  FAST_FAILURE seconds of the child's start (a crash loop: restarting will not
  help), stops the other children gracefully and exits 1;
- exits only when every child has exited: 0 when all shut down gracefully,
  otherwise 1 (or 78 when a child found Redis unfit).

With WORKER_PROCESSES=1 (the default) none of this runs: the worker runs in
the process that was started, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time

from . import lifecycle, preflight, shutdown
from .settings import Settings

log = logging.getLogger(__name__)

# Set in each child's environment: the parent's pid (the child exits when it is orphaned).
PARENT_ENV = "WORKER_SUPERVISOR_PID"
# A child that dies sooner than this after it started counts as a fast failure.
FAST_FAILURE = 30.0
MAX_RESTART_DELAY = 30.0


def main(settings: Settings) -> int:
    """``python -m <package> worker``: one worker in this process, or a supervisor of several."""
    if settings.worker_processes == 1:
        _exit_when_orphaned()
        return lifecycle.run(settings)
    return asyncio.run(Supervisor(settings).run())


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self.stopping: asyncio.Event | None = None

    async def run(self) -> int:
        self.stopping = asyncio.Event()
        shutdown.on_stop_signals(asyncio.get_running_loop(), self.forward)
        count = self.settings.worker_processes
        log.info("supervisor started", extra={"event": "supervisor_started", "processes": count})
        codes = await asyncio.gather(*(self.keep(slot) for slot in range(count)))
        code = _overall(codes)
        log.info("supervisor stopped", extra={"event": "supervisor_stopped", "exit_code": code})
        return code

    def forward(self, signum: int) -> None:
        """Pass the signal on; from now on a child that exits is not restarted."""
        self.stopping.set()
        log.info(
            "%s received: forwarding to %d worker processes",
            signal.Signals(signum).name,
            len(self.children),
            extra={"event": "supervisor_signal"},
        )
        self._signal_all(signum)

    async def keep(self, slot: int) -> int:
        """Run the child in ``slot`` until a stop is asked for; returns its exit code."""
        failures = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            code = await self._run_child(slot)
            if self.stopping.is_set():
                return code
            if code == preflight.EXIT_UNFIT:
                log.critical("redis is unfit; not restarting worker processes", extra={"event": "supervisor_gave_up"})
                self._stop_all()
                return code
            failures = failures + 1 if time.monotonic() - started < FAST_FAILURE else 1
            if failures >= self.settings.restart_limit:
                log.critical(
                    "worker process %d failed %d times in a row, each within %ss of starting; giving up "
                    "and stopping the others. Read the errors above",
                    slot,
                    failures,
                    FAST_FAILURE,
                    extra={"event": "supervisor_gave_up", "slot": slot, "exit_code": code},
                )
                self._stop_all()
                return shutdown.EXIT_FAILED
            delay = min(self.settings.restart_delay * 2 ** (failures - 1), MAX_RESTART_DELAY)
            log.error(
                "worker process %d exited unexpectedly with code %s; restarting in %.1fs",
                slot,
                code,
                delay,
                extra={"event": "worker_process_died", "slot": slot, "exit_code": code},
            )
            with contextlib.suppress(TimeoutError):  # the backoff, cut short by a stop
                await asyncio.wait_for(self.stopping.wait(), delay)
        return shutdown.EXIT_OK

    async def _run_child(self, slot: int) -> int:
        env = {**os.environ, "WORKER_PROCESSES": "1", PARENT_ENV: str(os.getpid())}
{%- if cookiecutter.use_metrics %}
        # One health/metrics port per process: worker slot N serves on HEALTH_PORT + N.
        env["HEALTH_PORT"] = str(self.settings.health_port + slot)
{%- endif %}
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __package__,
            "worker",
            env=env,
            # Own process group: a terminal's Ctrl-C reaches the child once, via forward().
            process_group=0,
        )
        self.children[child.pid] = child
        log.info("worker process started", extra={"event": "worker_process_started", "slot": slot, "pid": child.pid})
        try:
            code = await child.wait()
        finally:
            del self.children[child.pid]
        log.info(
            "worker process exited",
            extra={"event": "worker_process_exited", "slot": slot, "pid": child.pid, "exit_code": code},
        )
        return code

    def _stop_all(self) -> None:
        self.stopping.set()
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: int) -> None:
        for child in list(self.children.values()):
            with contextlib.suppress(ProcessLookupError):  # already gone; keep() sees its exit
                child.send_signal(signum)


def _overall(codes: list[int]) -> int:
    # A child stopped by the forwarded signal before it installed its handlers
    # had no jobs yet: that is a graceful stop too.
    graceful = {shutdown.EXIT_OK, -signal.SIGTERM, -signal.SIGINT}
    if all(code in graceful for code in codes):
        return shutdown.EXIT_OK
    return preflight.EXIT_UNFIT if preflight.EXIT_UNFIT in codes else shutdown.EXIT_FAILED


def _exit_when_orphaned() -> None:
    """In a supervised child: stop gracefully if the parent dies (e.g. SIGKILL).

    Children run in their own process group, so nothing else would stop them.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        log.error("supervisor process %s is gone; stopping", parent, extra={"event": "supervisor_lost"})
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-supervisor", daemon=True).start()
