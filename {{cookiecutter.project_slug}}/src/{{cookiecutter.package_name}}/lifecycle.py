"""Running the worker: signals, bounded graceful shutdown, exception hooks, watchdog.

Exit codes: 0 after a graceful shutdown; 1 when shutdown had to force-close
jobs or the service failed; 78 when the Redis server is unfit (preflight).
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading

from bullmq import Worker

from . import preflight, speed
from .connections import worker_connection
from .settings import Settings
from .worker import build_worker

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_UNFIT = 0, 1, 78
# After a forced close, give bullmq this long to release its connections
# before the process exits anyway: a shutdown must never hang.
FORCE_GRACE = 3.0


class Shutdown:
    """SIGINT/SIGTERM: the first asks for a graceful stop, the second forces it."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.receive, signum)

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


async def serve(settings: Settings) -> int:
    """Run the worker until a signal stops it; returns the process exit code."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_exception_handler)
    shutdown = Shutdown()
    shutdown.install(loop)

    fit = await _first(_preflight(settings), shutdown.requested.wait())
    if fit is None:
        return EXIT_OK  # stopped while waiting for Redis
    if not fit:
        return EXIT_UNFIT

    worker = build_worker(settings)
    running = asyncio.create_task(worker.run(), name="bullmq-run")
    log.info(
        "worker started",
        extra={"event": "worker_started", "queue": settings.queue_name, "concurrency": settings.concurrency},
    )
    stop = asyncio.create_task(shutdown.requested.wait())
    await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
    if not shutdown.requested.is_set():
        # Watchdog: bullmq's run() returns on an unexpected error and leaves a
        # process that looks alive but does nothing. Exit so a supervisor restarts it.
        stop.cancel()
        reason = running.exception() if not running.cancelled() else "cancelled"
        log.critical(
            "worker loop ended unexpectedly (%s); exiting so the supervisor restarts it",
            reason or "returned",
            extra={"event": "worker_loop_ended"},
        )
        await _force_close(worker)
        return EXIT_FAILED
    return await _graceful_close(worker, settings.shutdown_timeout, shutdown)


async def _preflight(settings: Settings) -> bool:
    client = worker_connection(settings)
    try:
        return preflight.report(await preflight.inspect(client, settings))
    finally:
        await client.aclose()


async def _first(work, interrupt):
    """Await ``work`` unless ``interrupt`` finishes first (then cancel it and return None)."""
    work_task, interrupt_task = asyncio.ensure_future(work), asyncio.ensure_future(interrupt)
    await asyncio.wait({work_task, interrupt_task}, return_when=asyncio.FIRST_COMPLETED)
    if work_task.done():
        interrupt_task.cancel()
        return work_task.result()
    work_task.cancel()
    return None


async def _graceful_close(worker: Worker, limit: float, shutdown: Shutdown) -> int:
    # worker.close() shields itself, so asyncio.wait_for cannot bound it:
    # wait with a timeout, then force.
    closing = asyncio.create_task(worker.close(), name="bullmq-close")
    forced = asyncio.create_task(shutdown.forced.wait())
    await asyncio.wait({closing, forced}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    forced.cancel()
    if closing.done() and not closing.cancelled() and closing.exception() is None:
        log.info("worker stopped gracefully", extra={"event": "worker_stopped"})
        return EXIT_OK
    interrupted = sorted(job.id for job, _token in worker.jobs)
    log.error(
        "shutdown did not finish within %ss; force-closing. Interrupted jobs %s stay "
        "active until stalled-job recovery hands them to another worker",
        limit,
        interrupted,
        extra={"event": "shutdown_timeout", "interrupted_jobs": interrupted},
    )
    await _force_close(worker)
    return EXIT_FAILED


async def _force_close(worker: Worker) -> None:
    # Last resort: if bullmq's teardown or the loop's cleanup hangs, leave anyway.
    timer = threading.Timer(FORCE_GRACE * 2, os._exit, (EXIT_FAILED,))
    timer.daemon = True
    timer.start()
    closing = asyncio.ensure_future(worker.close(force=True))
    await asyncio.wait({closing}, timeout=FORCE_GRACE)
    if closing.done() and not closing.cancelled() and closing.exception() is not None:
        log.warning("forced close raised: %s", closing.exception())


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Errors in background tasks nobody awaits: log them, keep working."""
    error = context.get("exception")
    log.error(
        "unhandled error in background task: %s",
        context.get("message", "no message"),
        exc_info=(type(error), error, error.__traceback__) if error else None,
        extra={"event": "unhandled_async_error"},
    )


def install_exception_hooks() -> None:
    """Route every unhandled error to the log, with its traceback."""
    faulthandler.enable()

    def on_exception(kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        log.critical(
            "unhandled exception; exiting",
            exc_info=(kind, value, traceback),
            extra={"event": "unhandled_exception"},
        )

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        log.error(
            "unhandled exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            extra={"event": "unhandled_thread_error"},
        )

    def on_unraisable(unraisable) -> None:
        log.warning(
            "unraisable exception in %r: %s",
            unraisable.object,
            unraisable.err_msg or "",
            exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
            if unraisable.exc_value
            else None,
            extra={"event": "unraisable"},
        )

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception
    sys.unraisablehook = on_unraisable


def run(settings: Settings) -> int:
    """Blocking entry point for ``python -m <package> worker``."""
    install_exception_hooks()
    try:
        code = speed.run(serve(settings), settings)  # uvloop unless UVLOOP=false
    except Exception:
        log.critical("worker failed", exc_info=True, extra={"event": "worker_failed"})
        code = EXIT_FAILED
    logging.shutdown()
    if code != EXIT_OK:
        # Nothing left to wait for: leave without running finalizers that
        # might block on a dead connection.
        os._exit(code)
    return code
