"""One worker process's life: load the team's modules, check Redis, build, run, watch, shut down.

The watchdog: bullmq's ``run()`` returns on an unexpected error and leaves a
process that looks alive but does nothing; this process then exits 1 so that
its supervisor restarts it. Signals and the bounded shutdown are shutdown.py's.
"""

from __future__ import annotations

import asyncio
import importlib
import logging

from . import excepthooks, {% if cookiecutter.use_metrics %}observe, {% endif %}offload, preflight, shutdown, speed
from .connections import worker_connection
from .settings import Settings
from .worker import build_worker

log = logging.getLogger(__name__)


def load_team_modules(settings: Settings) -> None:
    """Import the modules whose ``@handler`` and ``@listener`` functions the worker serves.

    Once per process, before Redis is involved: a broken module fails the start at once.
    """
    modules = [*settings.handler_modules{% if cookiecutter.use_encryption %}, f"{__package__}.sensitive"{% endif %}]
    for module in modules:
        importlib.import_module(module)


async def serve(settings: Settings) -> int:
    """Run the worker until a signal stops it; returns the process exit code."""
    loop = asyncio.get_running_loop()
    excepthooks.install_on_loop(loop)
    stop = shutdown.Shutdown()
    stop.install(loop)
    load_team_modules(settings)
{%- if cookiecutter.use_metrics %}
    endpoint = await observe.start(settings)  # /livez /readyz /metrics until the loop ends
{%- endif %}

    fit = await _first(preflight.passes(settings, worker_connection(settings)), stop.requested.wait())
    if fit is None:
        return shutdown.EXIT_OK  # stopped while waiting for Redis
    if not fit:
        return preflight.EXIT_UNFIT

{%- if cookiecutter.use_metrics %}
    worker = build_worker(settings, extra_listeners=endpoint.listeners())
    endpoint.watch(worker)  # readiness and metrics follow this worker
{%- else %}
    worker = build_worker(settings)
{%- endif %}
    running = asyncio.create_task(worker.run(), name="bullmq-run")
    log.info(
        "worker started",
        extra={"event": "worker_started", "queue": settings.queue_name, "concurrency": settings.concurrency},
    )
    stopping = asyncio.create_task(stop.requested.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stop.requested.is_set():
        return await shutdown.drain(worker, running, settings.shutdown_timeout, stop)
    stopping.cancel()
    error = None if running.cancelled() else running.exception()
    log.critical(
        "worker loop ended unexpectedly (%s); exiting so the supervisor restarts it",
        _why_ended(running),
        exc_info=(type(error), error, error.__traceback__) if error else None,
        extra={"event": "worker_loop_ended", "interrupted_jobs": shutdown.in_flight(worker)},
    )
    await shutdown.force_close(worker)
    return shutdown.EXIT_FAILED


def _why_ended(running: asyncio.Task) -> str:
    if running.cancelled():
        return "its task was cancelled"
    error = running.exception()
    return f"{type(error).__name__}: {error}" if error else "run() returned"


async def _first(work, interrupt):
    """Await ``work`` unless ``interrupt`` finishes first (then cancel it and return None)."""
    work_task, interrupt_task = asyncio.ensure_future(work), asyncio.ensure_future(interrupt)
    await asyncio.wait({work_task, interrupt_task}, return_when=asyncio.FIRST_COMPLETED)
    if work_task.done():
        interrupt_task.cancel()
        return work_task.result()
    work_task.cancel()
    return None


def run(settings: Settings) -> int:
    """Blocking entry point of one worker process; returns (or exits with) its exit code."""
    log.info("worker process starting", extra={"event": "worker_process", **speed.describe(settings)})
    excepthooks.install()
    offload.configure(settings.cpu_pool_size)
    try:
        return _run_loop(settings)
    finally:
        offload.close()  # after the worker finished its jobs, so none is cut off


def _run_loop(settings: Settings) -> int:
    with asyncio.Runner(loop_factory=speed.loop_factory(settings)) as runner:  # uvloop unless UVLOOP=false
        try:
            code = runner.run(serve(settings))
        except BaseException as error:  # the last line of defence: log, then exit
            # SystemExit too: a handler calling sys.exit() must not stop the
            # worker silently with jobs left active.
            log.critical(
                "worker failed: %s: %s", type(error).__name__, error, exc_info=True, extra={"event": "worker_failed"}
            )
            code = shutdown.EXIT_FAILED
        if code != shutdown.EXIT_OK:
            # Leave now: the runner's clean-up would wait for tasks and
            # connections left mid-command, and could hang.
            shutdown.leave(code)
        # Graceful stop: let the runner clean up, but never for long.
        shutdown.leave_after(shutdown.FORCE_GRACE, code)
    return code
