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

from . import {% if cookiecutter.use_metrics %}observe, {% endif %}preflight, speed
from .connections import worker_connection
from .settings import Settings
from .worker import build_worker, load_handlers

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_UNFIT = 0, 1, 78
# A forced close gets this long to cancel handlers and drop connections, and
# the event loop's own clean-up this long again; then the process leaves
# anyway. A shutdown must never hang.
FORCE_GRACE = 0.5


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
    load_handlers(settings)  # a broken handler module fails now, not after Redis is up
{%- if cookiecutter.use_metrics %}
    endpoint = await observe.start(settings)  # observe seam: /livez /readyz /metrics until the loop ends
{%- endif %}

    fit = await _first(_preflight(settings), shutdown.requested.wait())
    if fit is None:
        return EXIT_OK  # stopped while waiting for Redis
    if not fit:
        return EXIT_UNFIT

    worker = build_worker(settings)
{%- if cookiecutter.use_metrics %}
    endpoint.watch(worker)  # observe seam: readiness and metrics follow this worker
{%- endif %}
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
        error = None if running.cancelled() else running.exception()
        log.critical(
            "worker loop ended unexpectedly (%s); exiting so the supervisor restarts it",
            _why_ended(running),
            exc_info=(type(error), error, error.__traceback__) if error else None,
            extra={"event": "worker_loop_ended", "interrupted_jobs": _in_flight(worker)},
        )
        await _force_close(worker)
        return EXIT_FAILED
    return await _graceful_close(worker, running, settings.shutdown_timeout, shutdown)


def _why_ended(running: asyncio.Task) -> str:
    if running.cancelled():
        return "its task was cancelled"
    error = running.exception()
    return f"{type(error).__name__}: {error}" if error else "run() returned"


def _in_flight(worker: Worker) -> list[str]:
    return sorted(str(job.id) for job, _token in worker.jobs)


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


async def _graceful_close(worker: Worker, running: asyncio.Task, limit: float, shutdown: Shutdown) -> int:
    closing = asyncio.create_task(worker.close(), name="bullmq-close")
    await asyncio.sleep(0)  # close() marks the worker closing in its first step: no job is taken after this
    log.info(
        "taking no new jobs; waiting up to %ss for %d in-flight jobs",
        limit,
        len(worker.jobs),
        extra={"event": "shutdown_draining", "in_flight_jobs": _in_flight(worker)},
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
    interrupted = _in_flight(worker)
    why = "a second signal forced it" if shutdown.forced.is_set() else f"it did not finish within {limit}s"
    log.error(
        "shutdown force-closed jobs because %s. Interrupted jobs %s stay active until "
        "stalled-job recovery hands them to another worker",
        why,
        interrupted,
        extra={"event": "shutdown_forced_close", "interrupted_jobs": interrupted},
    )
    await _force_close(worker)
    return EXIT_FAILED


def _succeeded(task: asyncio.Task) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


async def _force_close(worker: Worker) -> None:
    """Cancel in-flight handlers and drop connections, within FORCE_GRACE at most.

    Jobs stay active and locked in Redis (bullmq does not release them); the
    lock expires and stalled-job recovery hands them to another worker.
    """
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
    # Crashes in C code (segfault, abort) print every thread's stack to stderr;
    # SIGUSR1 prints them without stopping: `kill -USR1 <pid>` on a stuck worker.
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def on_exception(kind, value, traceback) -> None:
        log.critical(
            "unhandled exception; exiting",
            exc_info=(kind, value, traceback),
            extra={"event": "unhandled_exception"},
        )

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return  # how threads end on purpose, as in Python's default hook
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
    with asyncio.Runner(loop_factory=speed.loop_factory(settings)) as runner:  # uvloop unless UVLOOP=false
        try:
            code = runner.run(serve(settings))
        except BaseException as error:  # the last line of defence: log, then exit
            # SystemExit too: a handler calling sys.exit() must not stop the
            # worker silently with jobs left active.
            log.critical(
                "worker failed: %s: %s", type(error).__name__, error, exc_info=True, extra={"event": "worker_failed"}
            )
            code = EXIT_FAILED
        if code != EXIT_OK:
            # Leave now: the runner's clean-up would wait for tasks and
            # connections left mid-command, and could hang.
            _leave(code)
        # Graceful stop: let the runner clean up, but never for long.
        _leave_after(FORCE_GRACE, code)
    return code


def _leave(code: int) -> None:
    logging.shutdown()
    os._exit(code)


def _leave_after(seconds: float, code: int) -> None:
    timer = threading.Timer(seconds, _leave, (code,))
    timer.daemon = True
    timer.start()
