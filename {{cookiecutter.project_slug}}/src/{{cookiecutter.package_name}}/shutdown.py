"""Graceful shutdown: SIGINT/SIGTERM, a bounded drain, a forced close, a second signal.

The first signal stops the worker taking jobs and gives the jobs in flight
``SHUTDOWN_TIMEOUT`` seconds to finish; the second signal, or the end of that
time, force-closes them. A force-closed job stays active and locked in Redis:
when its lock expires, stalled-job recovery hands it to another worker
(at-least-once delivery). Whatever happens, the process leaves within
``FORCE_GRACE`` seconds of a forced close: a shutdown never hangs.

Used by one worker process (lifecycle.py), the parent of several
(supervisor.py) and the CPU pool's processes (offload.py).

Exit codes: 0 after a graceful shutdown; 1 when jobs had to be force-closed or
the service failed (78, Redis unfit, is preflight.py's).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable

from bullmq import Worker

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED = 0, 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A forced close gets this long to cancel handlers and drop connections, and
# the event loop's own clean-up this long again; then the process leaves anyway.
FORCE_GRACE = 0.5


def on_stop_signals(loop: asyncio.AbstractEventLoop, receive: Callable[[int], None]) -> None:
    """Call ``receive(signum)`` on the event loop for every SIGINT and SIGTERM."""
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, receive, signum)


def ignore_interrupts() -> None:
    """For pool processes: a terminal's Ctrl-C reaches the whole process group,
    but the worker decides when jobs stop, so they must not die of it mid-job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Shutdown:
    """SIGINT/SIGTERM: the first asks for a graceful stop, the second forces it."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        on_stop_signals(loop, self.receive)

    def receive(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            log.warning("%s again: forcing shutdown now", name, extra={"event": "shutdown_forced"})
            self.forced.set()
        else:
            log.info(
                "%s received: finishing in-flight jobs, taking no new ones",
                name,
                extra={"event": "shutdown_requested"},
            )
            self.requested.set()


def in_flight(worker: Worker) -> list[str]:
    """Ids of the jobs ``worker`` is running now."""
    return sorted(str(job.id) for job, _token in worker.jobs)


async def drain(worker: Worker, running: asyncio.Task, limit: float, shutdown: Shutdown) -> int:
    """Close ``worker`` gracefully within ``limit`` seconds, else force it; returns the exit code."""
    closing = asyncio.create_task(worker.close(), name="bullmq-close")
    await asyncio.sleep(0)  # close() marks the worker closing in its first step: no job is taken after this
    log.info(
        "taking no new jobs; waiting up to %ss for %d in-flight jobs",
        limit,
        len(worker.jobs),
        extra={"event": "shutdown_draining", "in_flight_jobs": in_flight(worker)},
    )
    # worker.close() shields itself, so asyncio.wait_for cannot bound it:
    # wait with a timeout, then force. Wait for run() too: a job it took just
    # as close() began is not among those close() waits for.
    drained = asyncio.ensure_future(asyncio.wait({closing, running}))
    forced = asyncio.create_task(shutdown.forced.wait())
    await asyncio.wait({drained, forced}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    forced.cancel()
    if drained.done() and not worker.jobs and _succeeded(closing):
        log.info("worker stopped gracefully", extra={"event": "worker_stopped"})
        return EXIT_OK
    interrupted = in_flight(worker)
    why = "a second signal forced it" if shutdown.forced.is_set() else f"it did not finish within {limit}s"
    log.error(
        "shutdown force-closed jobs because %s. Interrupted jobs %s stay active until "
        "stalled-job recovery hands them to another worker",
        why,
        interrupted,
        extra={"event": "shutdown_forced_close", "interrupted_jobs": interrupted},
    )
    await force_close(worker)
    return EXIT_FAILED


def _succeeded(task: asyncio.Task) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


async def force_close(worker: Worker) -> None:
    """Cancel in-flight handlers and drop connections, within FORCE_GRACE at most.

    Jobs stay active and locked in Redis (bullmq does not release them); the
    lock expires and stalled-job recovery hands them to another worker.
    """
    closing = asyncio.ensure_future(worker.close(force=True))
    await asyncio.wait({closing}, timeout=FORCE_GRACE)
    if closing.done() and not closing.cancelled() and closing.exception() is not None:
        log.warning("forced close raised: %s", closing.exception())


def leave(code: int) -> None:
    """Exit now, without waiting for tasks and connections left mid-command (they could hang)."""
    logging.shutdown()
    os._exit(code)


def leave_after(seconds: float, code: int) -> None:
    """Exit with ``code`` after ``seconds`` unless the process has ended by then."""
    timer = threading.Timer(seconds, leave, (code,))
    timer.daemon = True
    timer.start()
