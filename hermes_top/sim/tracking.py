"""Pinning, signalling and reaping the processes a simulation started.

A PID is only ever signalled through the identity it had when the simulation
learned it: on Linux through a pidfd opened at once and checked against the
start time the process reported itself; elsewhere by re-checking psutil's
create time just before the signal.

Orphans are reparented to the nearest subreaper. The test process makes itself
one (``become_subreaper``) so they come back to it; it must then reap them, but
only the PIDs it registered: ``waitpid(-1)`` would steal exit statuses that
``subprocess.Popen`` objects elsewhere in the process are waiting for.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from hermes_top.core.procfs import read_stat_fields
from hermes_top.core.procfs import start_ticks as start_ticks  # re-exported: tests use it
from hermes_top.sim.errors import SimError

IS_LINUX = sys.platform.startswith("linux")
HAS_PIDFD = IS_LINUX and hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")
HAS_WAITID_PIDFD = HAS_PIDFD and hasattr(os, "P_PIDFD")

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def proc_state(pid: int) -> str | None:
    """One-letter kernel state (R, S, T, Z ...) from /proc, or None if gone."""
    fields = read_stat_fields(pid)
    return fields[0].decode() if fields else None


def process_start(pid: int) -> float | None:
    """A value that identifies one process's lifetime: start ticks on Linux,
    psutil's create time elsewhere; None if no process has this PID."""
    if IS_LINUX:
        ticks = start_ticks(pid)
        return None if ticks is None else float(ticks)
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def become_subreaper() -> bool:
    """Make this process a child subreaper (Linux): orphans of its descendants
    are reparented to it instead of PID 1. Returns False where unsupported."""
    if not IS_LINUX:
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def is_subreaper() -> bool:
    if not IS_LINUX:
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    flag = ctypes.c_int(0)
    if libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return False
    return flag.value != 0


def reap_pids(pids: Iterable[int]) -> dict[int, int]:
    """``waitpid(pid, WNOHANG)`` on each given PID, never on -1.

    Returns {pid: wait status} for those reaped now. PIDs that are not our
    children (or still running) are skipped. Pass only PIDs you started.
    """
    reaped: dict[int, int] = {}
    for pid in pids:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if got == pid:
            reaped[pid] = status
    return reaped


@dataclass(eq=False)
class Tracked:
    """One process a simulation started, pinned by its identity."""

    pid: int
    role: str
    #: Identity of this lifetime (see ``process_start``).
    start: float
    #: What a correct classifier should call it: live, stale, orphan, abandoned
    #: or zombie.
    expected: str
    pidfd: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    #: The pidfd reported its exit (it may still be a zombie not yet ours to reap).
    exit_seen: bool = False
    #: Gone for good: reaped by us, or no process with this identity exists.
    gone: bool = False


class ProcessRegistry:
    """Every process one simulation started; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._procs: list[Tracked] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._reaper: threading.Thread | None = None
        self._stop = threading.Event()

    # -- registration --------------------------------------------------------

    def add(
        self,
        pid: int,
        reported_start: int | None,
        role: str,
        expected: str,
        popen: subprocess.Popen[bytes] | None = None,
    ) -> Tracked:
        """Pin ``pid`` (pidfd first, then check the start time it reported)."""
        pidfd: int | None = None
        if HAS_PIDFD:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                raise SimError(f"{role} {pid} exited before it could be pinned") from None
        start = process_start(pid)
        if start is None or (IS_LINUX and reported_start is not None and start != reported_start):
            if pidfd is not None:
                os.close(pidfd)
            raise SimError(f"{role} {pid} is gone or is not the process that reported itself")
        tracked = Tracked(pid, role, start, expected, pidfd=pidfd, popen=popen)
        with self._lock:
            self._procs.append(tracked)
        self._poke()
        return tracked

    def find(self, pid: int) -> Tracked | None:
        """The newest registration of ``pid`` that still matches a running/zombie process."""
        with self._lock:
            for t in reversed(self._procs):
                if t.pid == pid and self.is_present(t):
                    return t
        return None

    def all(self) -> list[Tracked]:
        with self._lock:
            return list(self._procs)

    def present(self) -> list[Tracked]:
        with self._lock:
            return [t for t in self._procs if self.is_present(t)]

    # -- facts ---------------------------------------------------------------

    def is_present(self, t: Tracked) -> bool:
        """Does this process still exist (running, stopped or zombie)?"""
        if t.gone:
            return False
        if process_start(t.pid) != t.start:
            self._mark_gone(t)
            return False
        return True

    def _mark_gone(self, t: Tracked) -> None:
        with self._lock:
            t.gone = True
            if t.pidfd is not None:
                os.close(t.pidfd)
                t.pidfd = None

    # -- signals -------------------------------------------------------------

    def signal(self, t: Tracked, sig: int) -> bool:
        """Send ``sig`` to exactly this process. False if it no longer exists."""
        with self._lock:
            if t.gone:
                return False
            if t.pidfd is not None:
                try:
                    signal.pidfd_send_signal(t.pidfd, sig)
                except ProcessLookupError:
                    return False
                return True
            if not self.is_present(t):
                return False
            try:
                os.kill(t.pid, sig)
            except ProcessLookupError:
                return False
            return True

    # -- reaping -------------------------------------------------------------

    def reap(self, only_exited: bool = False) -> list[int]:
        """Reap registered processes that exited and are our children (Popen
        children, or orphans reparented to us as subreaper). Returns their PIDs."""
        done: list[int] = []
        with self._lock:
            for t in self._procs:
                if t.gone or (only_exited and not t.exit_seen and t.popen is None):
                    continue
                if self._reap_one(t):
                    done.append(t.pid)
        return done

    def _reap_one(self, t: Tracked) -> bool:
        if t.popen is not None:
            if t.popen.poll() is None:
                return False
            self._mark_gone(t)
            return True
        if HAS_WAITID_PIDFD and t.pidfd is not None:
            try:
                result = os.waitid(os.P_PIDFD, t.pidfd, os.WEXITED | os.WNOHANG)
            except ChildProcessError:  # not our child (yet): its parent reaps it
                self.is_present(t)
                return False
            if result is None:
                return False
            self._mark_gone(t)
            return True
        if not self.is_present(t):
            return False
        if reap_pids([t.pid]):
            self._mark_gone(t)
            return True
        return False

    def start_reaper(self) -> None:
        """Reap registered orphans as they exit, like a real init would (a thread)."""
        if self._reaper is None:
            self._stop.clear()
            self._reaper = threading.Thread(
                target=self._reaper_loop, name="hermes-sim-reaper", daemon=True
            )
            self._reaper.start()

    def stop_reaper(self) -> None:
        if self._reaper is not None:
            self._stop.set()
            self._poke()
            self._reaper.join(timeout=5)
            self._reaper = None

    def _poke(self) -> None:
        if self._wake_w < 0:
            return
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _reaper_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                watched = {
                    t.pidfd: t
                    for t in self._procs
                    if t.pidfd is not None and not t.exit_seen and not t.gone
                }
            if HAS_PIDFD:
                poller = select.poll()
                poller.register(self._wake_r, select.POLLIN)
                for fd in watched:
                    poller.register(fd, select.POLLIN)
                # The timeout retries exited zombies whose parent died since (now ours).
                events = poller.poll(1000)
            else:
                events = []
                self._stop.wait(0.2)
            for fd, _ in events:
                if fd == self._wake_r:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                elif fd in watched:
                    watched[fd].exit_seen = True
            try:
                self.reap(only_exited=HAS_PIDFD)
            except OSError:
                pass  # e.g. a pidfd closed under us by a concurrent reap; next round

    # -- teardown ------------------------------------------------------------

    def kill_all(self, timeout: float) -> list[Tracked]:
        """SIGKILL (and SIGCONT) every registered process still present, reap what
        is ours, and wait until all are gone. Returns those still present."""
        import time

        for t in self.present():
            self.signal(t, signal.SIGKILL)
            self.signal(t, signal.SIGCONT)
        deadline = time.monotonic() + timeout
        while True:
            self.reap()
            left = self.present()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.01)

    def close(self) -> None:
        self.stop_reaper()
        with self._lock:
            for t in self._procs:
                if t.pidfd is not None:
                    os.close(t.pidfd)
                    t.pidfd = None
        # Idempotent: a closed fd number may already belong to someone else.
        wake, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in wake:
            if fd >= 0:
                os.close(fd)
