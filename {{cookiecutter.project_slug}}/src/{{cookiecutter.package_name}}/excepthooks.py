"""Unhandled exceptions and rejections: every one reaches the log, with its traceback.

Python has four places where an error nobody catches ends up: ``sys.excepthook``
(the main thread), ``threading.excepthook`` (other threads),
``sys.unraisablehook`` (errors in ``__del__`` and callbacks) and the event
loop's exception handler (tasks nobody awaits: Node's unhandled rejections).
Each is routed to the log here. Crashes in C code (segfault, abort) cannot be
logged; ``faulthandler`` prints every thread's stack to stderr instead, and
``kill -USR1 <pid>`` prints them from a stuck worker without stopping it.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal
import sys
import threading

log = logging.getLogger(__name__)


def install() -> None:
    """Route every unhandled error of this process to the log; call once, at start."""
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    sys.excepthook = _on_exception
    threading.excepthook = _on_thread_exception
    sys.unraisablehook = _on_unraisable


def install_on_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Errors in background tasks nobody awaits: log them, keep working."""
    loop.set_exception_handler(_on_loop_exception)


def _on_exception(kind, value, traceback) -> None:
    log.critical(
        "unhandled exception; exiting", exc_info=(kind, value, traceback), extra={"event": "unhandled_exception"}
    )


def _on_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # how threads end on purpose, as in Python's default hook
    log.error(
        "unhandled exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        extra={"event": "unhandled_thread_error"},
    )


def _on_unraisable(unraisable) -> None:
    log.warning(
        "unraisable exception in %r: %s",
        unraisable.object,
        unraisable.err_msg or "",
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
        if unraisable.exc_value
        else None,
        extra={"event": "unraisable"},
    )


def _on_loop_exception(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    error = context.get("exception")
    log.error(
        "unhandled error in background task: %s",
        context.get("message", "no message"),
        exc_info=(type(error), error, error.__traceback__) if error else None,
        extra={"event": "unhandled_async_error"},
    )
