"""Pinned processes: the only way the core reaches a process to signal it.

A process is pinned the moment a scan first sees it: on Linux the scan opens a
pidfd for it and gives the pin a number that is never reused (carried in
``Identity.pin``), so even a PID reuser that started in the same clock tick,
with the same argv, is told apart. Without pidfds (macOS) identity (create
time, uid, argv) is re-read and compared immediately before every signal.

"Gone" is only ever what the kernel says: a pidfd that polls readable, a PID
that no longer exists, or a PID now held by a process with another start time.
A read that fails for lack of FDs or memory is ``ProcUnreadable``, never gone.
"""

from __future__ import annotations

import enum
import os
import select
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes_top.core import procfs
from hermes_top.core.model import Identity
from hermes_top.core.procfs import RawProc

if TYPE_CHECKING:
    import psutil

#: A process this much older than the scan that saw it cannot share its start
#: time with a later PID reuser (start times have 10 ms ticks; the estimate of
#: boot time is whole seconds), so a fresh pidfd verified by start time is as
#: good as a scan-time pin.
FRESH_PIN_MIN_AGE_S = 2.0
#: FDs the scan's pins always leave free for actions and /proc reads.
PIN_RESERVE_FDS = 32
#: How long an exiting process (argv already gone) is given to show as exited.
EXIT_CONFIRM_S = 0.2
#: How many exited pin numbers are remembered (so "exited" is not "unknown").
_EXITED_MEMORY = 65536


class IdentityChanged(Exception):
    """The PID now belongs to a different process (or its argv/uid changed)."""


class Check(enum.Enum):
    """What a fresh look at a pinned PID found."""

    SAME = "same"  # still the process we showed
    GONE = "gone"  # it exited
    REUSED = "reused"  # it exited and another process holds the PID now
    CHANGED = "changed"  # the same process, but its uid or argv changed (exec)


def compare(expected: Identity, actual: Identity | None) -> tuple[Check, str]:
    if actual is None:
        return Check.GONE, "exited"
    if actual.create_time != expected.create_time:
        return Check.REUSED, (
            f"PID {expected.pid} was reused by a process started at {actual.create_time:.2f}"
        )
    if actual.uid != expected.uid:
        return Check.CHANGED, f"PID {expected.pid} now belongs to uid {actual.uid}"
    if actual.cmdline != expected.cmdline:
        return Check.CHANGED, f"PID {expected.pid} changed its command line"
    return Check.SAME, ""


def pidfd_exited(fd: int) -> bool:
    """A pidfd polls readable once its process has exited (a zombie counts).

    poll, not select: select() fails on fd numbers >= 1024, which a reap of
    hundreds of pinned processes easily reaches.
    """
    return bool(exited_pidfds((fd,)))


def exited_pidfds(fds: Iterable[int]) -> set[int]:
    """The pidfds among ``fds`` whose process has exited, in one poll() (a scan
    checks every pin each tick: one syscall, not one per pin). An fd that is
    not open polls as POLLNVAL and counts as exited, as in ``pidfd_exited``."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return {fd for fd, _ in poller.poll(0)}


class ProcessHandle(ABC):
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @abstractmethod
    def current_identity(self) -> Identity | None:
        """Identity read fresh from the OS; None if the process is gone.
        Raises ProcUnreadable when it could not be read."""

    @abstractmethod
    def send(self, sig: int) -> None:
        """Signal the pinned process. Raises ProcessLookupError, PermissionError,
        IdentityChanged."""

    @abstractmethod
    def has_exited(self) -> bool:
        """True once the pinned process has exited (a zombie counts as exited)."""

    @abstractmethod
    def status(self) -> str | None:
        """One-letter kernel state (R, S, T, Z ...), None if gone. May raise ProcUnreadable."""

    def fileno(self) -> int | None:
        """A pollable fd that becomes readable at exit, if the platform has one."""
        return None

    def close(self) -> None:
        return None

    def check(self) -> tuple[Check, str]:
        """Is the PID still our process? Raises ProcUnreadable when that cannot be told."""
        return compare(self.identity, self.current_identity())


class PidfdHandle(ProcessHandle):
    """Linux: the process is pinned by a pidfd for as long as the handle is open.

    ``trusted`` means the pidfd comes from a scan-time pin whose start time was
    checked when it was opened: it can only ever name that process, so an
    unreadable /proc does not stop a signal. A fresh pidfd (``trusted=False``)
    is only ours once ``verify()`` has read and compared the start time.
    """

    def __init__(self, identity: Identity, pidfd: int | None = None, trusted: bool = False) -> None:
        super().__init__(identity)
        # Raises ProcessLookupError if the PID is gone; we own a pidfd passed in.
        self._fd: int | None = pidfd if pidfd is not None else os.pidfd_open(identity.pid)
        self.trusted = trusted and pidfd is not None

    def current_identity(self) -> Identity | None:
        if self.has_exited():
            return None
        pid = self.identity.pid
        raw = procfs.read_proc(pid)
        try:
            argv = procfs.read_cmdline(pid)
        except PermissionError:
            argv = ("<argv unreadable>",)
        if raw is None or argv is None or raw.status == "Z" or (not argv and self.identity.cmdline):
            # Gone, a zombie, or exiting: the kernel drops argv before the pidfd
            # turns readable. Only the pidfd may say it ended: give it a moment.
            if self._exits_within(EXIT_CONFIRM_S):
                return None
            raise procfs.ProcUnreadable(0, f"/proc/{pid} unreadable while the process runs")
        return Identity(raw.pid, raw.create_time, raw.uid, argv, self.identity.pin)

    def _exits_within(self, seconds: float) -> bool:
        if self._fd is None:
            return True
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return bool(poller.poll(int(seconds * 1000)))

    def check(self) -> tuple[Check, str]:
        if self.has_exited():
            return Check.GONE, "exited"
        try:
            return super().check()
        except procfs.ProcUnreadable:
            if self.trusted:
                return Check.SAME, ""  # the pin proves the identity; argv is a cross-check
            raise

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
        except OSError as err:
            raise procfs.ProcUnreadable(err.errno or 0, f"cannot read PID {proc.pid}") from err

    def send(self, sig: int) -> None:
        found, why = self.check()
        if found is Check.GONE:
            raise ProcessLookupError(self.identity.pid)
        if found is not Check.SAME:
            raise IdentityChanged(why)
        # The window between this check and kill() is the one psutil also has;
        # it is as small as we can make it without pidfds.
        os.kill(self.identity.pid, sig)

    def has_exited(self) -> bool:
        return self.check()[0] in (Check.GONE, Check.REUSED)

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


# --- the scan's pins ------------------------------------------------------------------


class PinLookup(enum.Enum):
    OK = "ok"
    EXITED = "exited"
    REUSED = "reused"
    UNKNOWN = "unknown"


@dataclass
class _Pin:
    number: int
    create_time: float
    fd: int


class PinRegistry:
    """pidfds opened at scan time, one per Hermes process, within an FD budget."""

    def __init__(
        self,
        open_pidfd: Callable[[int], int | None],
        headroom: Callable[[], int] | None = None,
    ) -> None:
        self._open = open_pidfd
        #: How many more FDs this process may open now (None: no limit known).
        self._headroom = headroom
        self._pins: dict[int, _Pin] = {}
        self._exited: dict[int, None] = {}  # pin numbers, oldest first
        self._next = 1
        # The TUI scans in one thread while an action runs in another: a pin must
        # not be closed (and its fd number reused) while it is being dup'ed.
        self._lock = threading.Lock()

    def update(
        self,
        procs: Mapping[int, RawProc],
        wanted: Mapping[int, RawProc],
        reread: Callable[[int], RawProc | None],
    ) -> dict[int, int]:
        """Drop the pins of processes that exited; pin new ones. pid → pin number."""
        with self._lock:
            self._drop_exited(procs)
            # Youngest first: a fresh pin at signal time is only sound for old processes.
            new = sorted(
                (raw for pid, raw in wanted.items() if pid not in self._pins and raw.status != "Z"),
                key=lambda raw: -raw.create_time,
            )
            # Counting our FDs lists /proc/self/fd: only when there is something to pin.
            budget = 0
            if new:
                budget = (self._headroom() if self._headroom else 1 << 30) - PIN_RESERVE_FDS
            for raw in new[: max(0, budget)]:
                self._pin(raw, reread)
            return {pid: pin.number for pid, pin in self._pins.items()}

    def _drop_exited(self, procs: Mapping[int, RawProc]) -> None:
        exited = exited_pidfds(pin.fd for pin in self._pins.values())
        for pid, pin in list(self._pins.items()):
            current = procs.get(pid)
            # Only the pidfd says a process is gone; a row missing from a listing does not.
            reused = current is not None and current.create_time != pin.create_time
            if reused or pin.fd in exited:
                os.close(pin.fd)
                del self._pins[pid]
                self._exited[pin.number] = None
                if len(self._exited) > _EXITED_MEMORY:
                    del self._exited[next(iter(self._exited))]

    def _pin(self, raw: RawProc, reread: Callable[[int], RawProc | None]) -> None:
        fd = self._open(raw.pid)
        if fd is None:
            return
        # The PID may have been reused between the scan and pidfd_open:
        # only keep the pidfd if it still names the process we saw.
        try:
            again = reread(raw.pid)
        except procfs.ProcUnreadable:
            again = None
        if again is None or again.create_time != raw.create_time:
            os.close(fd)
            return
        self._pins[raw.pid] = _Pin(self._next, raw.create_time, fd)
        self._next += 1

    def take(self, identity: Identity) -> tuple[PinLookup, int | None]:
        """A dup of the pidfd pinned for this identity (the caller closes it).
        Raises OSError (EMFILE) when no fd is left for the dup."""
        with self._lock:
            pin = self._pins.get(identity.pid)
            if pin is not None and pin.number != identity.pin:
                return PinLookup.REUSED, None  # another process holds the PID: ours exited
            if pin is None:
                exited = identity.pin in self._exited
                return (PinLookup.EXITED if exited else PinLookup.UNKNOWN), None
            if pidfd_exited(pin.fd):
                return PinLookup.EXITED, None
            return PinLookup.OK, os.dup(pin.fd)

    def close(self) -> None:
        with self._lock:
            for pin in self._pins.values():
                os.close(pin.fd)
            self._pins.clear()
