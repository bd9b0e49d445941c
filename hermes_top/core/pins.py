"""pidfds opened at scan time: a process is pinned the moment it is first seen.

Each pin gets a number that is never reused, carried in ``Identity.pin``. A
signal for an identity goes through its own pin's pidfd, so even a process
that reused the PID within the same clock tick (same create time, same argv)
is told apart: it has another pin. Only Linux has pidfds; elsewhere nothing is
pinned and the signaller re-verifies identity before every signal instead.
"""

from __future__ import annotations

import enum
import os
import select
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hermes_top.core.handles import pidfd_exited
from hermes_top.core.model import Identity
from hermes_top.core.procfs import RawProc


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
    def __init__(self, open_pidfd: Callable[[int], int | None]) -> None:
        self._open = open_pidfd
        self._pins: dict[int, _Pin] = {}
        self._next = 1
        # The TUI scans in one thread while an action runs in another: a pin must
        # not be closed (and its fd number reused) while it is being dup'ed.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pins)

    def update(
        self,
        procs: Mapping[int, RawProc],
        wanted: Mapping[int, RawProc],
        reread: Callable[[int], RawProc | None],
    ) -> dict[int, int]:
        """Drop pins of processes that are gone; pin the new ones. pid → pin number."""
        with self._lock:
            return self._update(procs, wanted, reread)

    def _update(
        self,
        procs: Mapping[int, RawProc],
        wanted: Mapping[int, RawProc],
        reread: Callable[[int], RawProc | None],
    ) -> dict[int, int]:
        exited = self._exited()
        for pid in list(self._pins):
            pin = self._pins[pid]
            current = procs.get(pid)
            if pid in exited or current is None or current.create_time != pin.create_time:
                os.close(pin.fd)
                del self._pins[pid]
        for pid, raw in wanted.items():
            if pid in self._pins or raw.status == "Z":
                continue
            fd = self._open(pid)
            if fd is None:
                continue
            # The PID may have been reused between the scan and pidfd_open:
            # only keep the pidfd if it still names the process we saw.
            again = reread(pid)
            if again is None or again.create_time != raw.create_time:
                os.close(fd)
                continue
            self._pins[pid] = _Pin(self._next, raw.create_time, fd)
            self._next += 1
        return {pid: pin.number for pid, pin in self._pins.items()}

    def _exited(self) -> set[int]:
        if not self._pins:
            return set()
        poller = select.poll()
        by_fd = {pin.fd: pid for pid, pin in self._pins.items()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        return {by_fd[fd] for fd, _ in poller.poll(0)}

    def take(self, identity: Identity) -> tuple[PinLookup, int | None]:
        """A dup of the pidfd pinned for this identity (the caller closes it)."""
        with self._lock:
            pin = self._pins.get(identity.pid)
            if pin is None:
                return PinLookup.UNKNOWN, None
            if pin.number != identity.pin:
                return PinLookup.REUSED, None
            if pidfd_exited(pin.fd):
                return PinLookup.EXITED, None
            return PinLookup.OK, os.dup(pin.fd)

    def close(self) -> None:
        with self._lock:
            for pin in self._pins.values():
                os.close(pin.fd)
            self._pins.clear()
