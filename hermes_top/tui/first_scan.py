"""Start the first scan before the UI is up, so a cold scan overlaps Textual's start.

No Textual here: a launcher can call ``scan_in_background`` before it imports the
TUI (the import alone takes a few hundred milliseconds) and hand the future to
``run_app``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from hermes_top.core.engine import CoreAPI
from hermes_top.core.model import Snapshot


def scan_in_background(core: CoreAPI) -> Future[Snapshot]:
    """``core.scan()`` in a daemon thread, started now; its result or error in the future."""
    future: Future[Snapshot] = Future()

    def run() -> None:
        try:
            future.set_result(core.scan())
        except BaseException as err:  # handed to whoever waits: the UI reports it
            future.set_exception(err)

    threading.Thread(target=run, name="hermes-top-first-scan", daemon=True).start()
    return future
