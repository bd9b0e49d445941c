"""Pinned process handles: the only way the core sends a signal.

A handle is opened from the identity captured at scan time (pid, create time,
uid, argv). On Linux it holds a pidfd, so once opened and verified a reused PID
can never receive our signal (the kernel answers ESRCH instead). Without pidfds
(macOS) identity is re-read and compared immediately before every signal,
the SIGKILL step included.
"""

from __future__ import annotations

import os
import select
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hermes_top.core import procfs
from hermes_top.core.model import Identity

if TYPE_CHECKING:
    import psutil


class IdentityChanged(Exception):
    """The PID now belongs to a different process (or its argv/uid changed)."""


def describe_mismatch(expected: Identity, actual: Identity) -> str | None:
    if actual.create_time != expected.create_time:
        return f"PID {expected.pid} was reused by a process started at {actual.create_time:.2f}"
    if actual.uid != expected.uid:
        return f"PID {expected.pid} now belongs to uid {actual.uid}"
    if actual.cmdline != expected.cmdline:
        return f"PID {expected.pid} changed its command line"
    return None


class ProcessHandle(ABC):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @abstractmethod
    def current_identity(self) -> Identity | None:
        """Identity read fresh from the OS, or None if the PID is gone."""

    @abstractmethod
    def send(self, sig: int) -> None:
        """Signal the pinned process. Raises ProcessLookupError, PermissionError,
        IdentityChanged."""

    @abstractmethod
    def has_exited(self) -> bool:
        """True once the pinned process has exited (a zombie counts as exited)."""

    @abstractmethod
    def status(self) -> str | None:
        """One-letter kernel state (R, S, T, Z ...) or None if gone."""

    def fileno(self) -> int | None:
        """A pollable fd that becomes readable at exit, if the platform has one."""
        return None

    def close(self) -> None:
        return None

    def verify(self) -> str | None:
        """None when the PID is still our process, else why not (gone or changed)."""
        actual = self.current_identity()
        if actual is None:
            return "gone"
        return describe_mismatch(self.identity, actual)


class PidfdHandle(ProcessHandle):
    """Linux: the process is pinned by a pidfd from the moment it is opened."""

    def __init__(self, identity: Identity, pidfd: int | None = None) -> None:
        super().__init__(identity)
        # Raises ProcessLookupError if the PID is gone. If it was reused before
        # this line, verify() (called by the opener) sees the new create time.
        # A pidfd pinned at scan time is passed in (we take ownership).
        self._fd: int | None = pidfd if pidfd is not None else os.pidfd_open(identity.pid)

    def current_identity(self) -> Identity | None:
        if self.has_exited():
            return None
        raw = procfs.read_proc(self.identity.pid)
        argv = procfs.read_cmdline(self.identity.pid)
        if raw is None or argv is None:
            return None
        return Identity(raw.pid, raw.create_time, raw.uid, argv, self.identity.pin)

    def send(self, sig: int) -> None:
        if self._fd is None:
            raise ProcessLookupError(self.identity.pid)
        signal.pidfd_send_signal(self._fd, sig)

    def has_exited(self) -> bool:
        return self._fd is None or pidfd_exited(self._fd)

    def status(self) -> str | None:
        if self.has_exited():
            return None
        raw = procfs.read_proc(self.identity.pid)
        return raw.status if raw else None

    def fileno(self) -> int | None:
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ReverifyHandle(ProcessHandle):
    """No pidfds (macOS): compare identity right before each signal.

    psutil is imported here, not at module level: Linux never needs it to list
    or reap, and the CLI's start-up time matters on a machine in trouble.
    """

    def _process(self) -> psutil.Process | None:
        import psutil

        try:
            return psutil.Process(self.identity.pid)
        except psutil.NoSuchProcess:
            return None

    def current_identity(self) -> Identity | None:
        import psutil

        proc = self._process()
        if proc is None:
            return None
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    return None  # exited; only its parent's wait() remains
                # Start time and uid first: a PID reused by another user's
                # process may deny us its argv, and must still read as changed.
                create_time, uid = proc.create_time(), proc.uids().real
                try:
                    argv = tuple(proc.cmdline())
                except psutil.AccessDenied:
                    argv = ("<argv unreadable>",)
                return Identity(proc.pid, create_time, uid, argv, self.identity.pin)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        except psutil.AccessDenied:
            return Identity(proc.pid, -1.0, -1, ("<unreadable>",), self.identity.pin)

    def send(self, sig: int) -> None:
        mismatch = self.verify()
        if mismatch == "gone":
            raise ProcessLookupError(self.identity.pid)
        if mismatch is not None:
            raise IdentityChanged(mismatch)
        # The window between this check and kill() is the one psutil also has;
        # it is as small as we can make it without pidfds.
        os.kill(self.identity.pid, sig)

    def has_exited(self) -> bool:
        return self.verify() is not None

    def status(self) -> str | None:
        import psutil

        proc = self._process()
        if proc is None:
            return None
        try:
            return status_letter(proc.status())
        except psutil.NoSuchProcess:
            return None


#: psutil's status words → the one-letter kernel states used everywhere else.
_STATUS_LETTERS = {
    "running": "R",
    "sleeping": "S",
    "disk-sleep": "D",
    "stopped": "T",
    "tracing-stop": "t",
    "zombie": "Z",
    "idle": "I",
}


def status_letter(psutil_status: str) -> str:
    return _STATUS_LETTERS.get(psutil_status, "?")


def pidfd_exited(fd: int) -> bool:
    """A pidfd polls readable once its process has exited (a zombie counts).

    poll, not select: select() fails on fd numbers >= 1024, which a reap of
    hundreds of pinned processes easily reaches.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def wait_for_exit(
    handles: Sequence[ProcessHandle],
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> set[int]:
    """Wait (together, not one after another) until every handle exited or time is up.

    Returns the PIDs that exited. Pollable handles block in poll(); the others
    are checked every 20 ms.
    """
    deadline = clock() + timeout_s
    exited: set[int] = set()
    pending = list(handles)
    poller = select.poll()
    by_fd: dict[int, ProcessHandle] = {}
    for handle in pending:
        fd = handle.fileno()
        if fd is not None:
            poller.register(fd, select.POLLIN)
            by_fd[fd] = handle
    while True:
        for handle in list(pending):
            if handle.fileno() is None and handle.has_exited():
                exited.add(handle.identity.pid)
                pending.remove(handle)
        remaining = deadline - clock()
        if not pending or remaining <= 0:
            break
        has_unpollable = any(h.fileno() is None for h in pending)
        wait_ms = min(remaining, 0.02) if has_unpollable else remaining
        for fd, _event in poller.poll(max(0, int(wait_ms * 1000)) or 1):
            done = by_fd.pop(fd, None)
            if done is not None:
                poller.unregister(fd)
                exited.add(done.identity.pid)
                pending.remove(done)
    return exited
