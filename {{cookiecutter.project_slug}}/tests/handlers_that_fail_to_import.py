"""A handler module that starts a non-daemon thread, then fails to import.

Like a team module that starts a metrics exporter and then trips over a
missing setting: the worker must log the error and exit non-zero, and the
thread must not keep the process alive.
"""

from __future__ import annotations

import threading

_forever = threading.Event()
threading.Thread(target=_forever.wait, name="lingering-exporter", daemon=False).start()

raise RuntimeError("handlers_that_fail_to_import: misconfigured on purpose")
