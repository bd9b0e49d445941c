"""Start the first scan before the UI is up, so a cold scan overlaps Textual's start.

No Textual here: a launcher can call ``scan_in_background`` before it imports the
TUI (the import alone takes a few hundred milliseconds) and hand the future to
``run_app``.

On Linux the first scan runs in a forked child: a thread would share the GIL
with Textual's import and start-up and finish no sooner than if the two ran one
after the other (measured: 0.75 s for a 0.12 s scan). The child sends back the
pickled snapshot with every pin cleared (its pidfds die with it: a signal sent
from this snapshot pins at signal time, as an unpinned one always does). Any
failure falls back to scanning in a thread.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
import threading
from concurrent.futures import Future

from hermes_top.core.engine import CoreAPI
from hermes_top.core.model import Snapshot


def scan_in_background(core: CoreAPI, *, fork: bool | None = None) -> Future[Snapshot]:
    """``core.scan()`` started now, off this thread; its result or error in the future.

    ``fork``: None forks on Linux when this process has no other thread (a fork
    copies only the caller's thread: locks held by others would stay held)."""
    if fork is None:
        fork = sys.platform.startswith("linux") and threading.active_count() == 1
    future: Future[Snapshot] = Future()
    child = _fork_scan(core) if fork else None

    def run() -> None:
        try:
            snapshot = _collect(*child) if child is not None else None
            future.set_result(snapshot if snapshot is not None else core.scan())
        except BaseException as err:  # handed to whoever waits: the UI reports it
            future.set_exception(err)

    threading.Thread(target=run, name="hermes-top-first-scan", daemon=True).start()
    return future


def unpinned(snapshot: Snapshot) -> Snapshot:
    """The snapshot with no pidfd numbers in it (they mean nothing in another process)."""
    procs = tuple(
        dataclasses.replace(p, identity=dataclasses.replace(p.identity, pin=0))
        if p.identity.pin
        else p
        for p in snapshot.processes
    )
    return dataclasses.replace(snapshot, processes=procs)


def _fork_scan(core: CoreAPI) -> tuple[int, int] | None:
    """(child PID, read end of its pipe), or None when it cannot fork."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: scan, send, leave without running any of the parent's exit code
        status = 1
        try:
            os.close(read_fd)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # never a stray byte on the user's terminal
                os.dup2(null, fd)
            from hermes_top.core import exec_events

            exec_events.refuse_here()  # its events would die with it: the parent listens
            data = pickle.dumps(unpinned(core.scan()), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view) :]
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, read_fd: int) -> Snapshot | None:
    """The child's snapshot; None if it failed (the caller scans itself)."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(read_fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)  # our child: reaped here, never left a zombie
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not chunks:
        return None
    snapshot = pickle.loads(b"".join(chunks))  # our own child's bytes, nobody else's
    return snapshot if isinstance(snapshot, Snapshot) else None
