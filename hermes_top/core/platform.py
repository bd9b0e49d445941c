"""The platform seam: every Linux/macOS difference the core has lives here.

- discovery: /proc (Linux) or psutil (macOS);
- pinning: pidfd (Linux) or re-verify before each signal (macOS);
- FD limits: /proc/PID/limits (Linux) or plist → ``launchctl limit maxfiles``
  → the launchd default of 256, marked inferred (macOS);
- reclaimable FDs: counted pipe by pipe (Linux) or estimated (macOS).

``MacPlatform`` uses only psutil and files, so tests run the macOS branch on
Linux by injecting it (see tests/core/test_platform_mac.py).
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hermes_top.core import procfs
from hermes_top.core.handles import (
    PidfdHandle,
    ProcessHandle,
    ReverifyHandle,
    status_letter,
)
from hermes_top.core.model import FdLimits, Identity
from hermes_top.core.procfs import RawProc

if TYPE_CHECKING:
    import psutil


class Platform(ABC):
    name: str
    #: True when reclaimable FDs are counted exactly (pipe inodes are visible).
    exact_reclaim: bool

    @abstractmethod
    def list_processes(self) -> dict[int, RawProc]:
        """Cheap facts of every process; ``uid`` may be -1 (see ``with_uid``)."""

    def with_uid(self, proc: RawProc) -> RawProc | None:
        """``proc`` with its uid filled in (None if it is gone)."""
        return proc

    @abstractmethod
    def cmdline(self, pid: int) -> tuple[str, ...] | None: ...

    @abstractmethod
    def num_fds(self, pid: int) -> tuple[int | None, str | None]: ...

    @abstractmethod
    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        """(fd → target, source label). Raises OSError/psutil errors when unreadable."""

    def pipe_inodes(self, pid: int) -> dict[int, int] | None:
        """fd → pipe inode, or None where the platform cannot see pipe identities."""
        return None

    @abstractmethod
    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits: ...

    @abstractmethod
    def open_handle(self, identity: Identity, pidfd: int | None = None) -> ProcessHandle:
        """Pin a process for signalling. Raises ProcessLookupError if gone."""

    def open_pidfd(self, pid: int) -> int | None:
        """A pidfd for ``pid`` where the platform has them, else None."""
        return None

    def identity_of(self, pid: int) -> Identity | None:
        raw = self.list_one(pid)
        argv = self.cmdline(pid)
        if raw is None or argv is None:
            return None
        return Identity(pid, raw.create_time, raw.uid, argv)

    @abstractmethod
    def list_one(self, pid: int) -> RawProc | None: ...


class LinuxPlatform(Platform):
    name = "linux"
    exact_reclaim = True

    def list_processes(self) -> dict[int, RawProc]:
        return procfs.list_processes()

    def list_one(self, pid: int) -> RawProc | None:
        return procfs.read_proc(pid)

    def with_uid(self, proc: RawProc) -> RawProc | None:
        if proc.uid >= 0:
            return proc
        uid = procfs.read_uid(proc.pid)
        return None if uid is None else proc._replace(uid=uid)

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        return procfs.read_cmdline(pid)

    def num_fds(self, pid: int) -> tuple[int | None, str | None]:
        return procfs.count_fds(pid)

    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        return procfs.fd_targets(pid), "/proc"

    def pipe_inodes(self, pid: int) -> dict[int, int] | None:
        return procfs.pipe_inodes(pid)

    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits:
        limits = procfs.read_nofile_limits(proc.pid)
        if limits is None:
            return FdLimits(None, None, "unknown", True, f"/proc/{proc.pid}/limits unreadable")
        return FdLimits(limits[0], limits[1], "proc", False, f"/proc/{proc.pid}/limits")

    def open_handle(self, identity: Identity, pidfd: int | None = None) -> ProcessHandle:
        return PidfdHandle(identity, pidfd)

    def open_pidfd(self, pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)
        except OSError:
            return None


class MacPlatform(Platform):
    """psutil-based; also runs on Linux so tests can exercise this branch.

    psutil is imported in the methods: the Linux path never needs it.
    """

    name = "darwin"
    exact_reclaim = False

    def __init__(
        self,
        launch_agents_dir: Path | None = None,
        launchctl_maxfiles: Callable[[], tuple[int, int | None] | None] | None = None,
    ) -> None:
        self.launch_agents_dir = launch_agents_dir
        self._launchctl_maxfiles = launchctl_maxfiles

    def _raw(self, proc: psutil.Process) -> RawProc:

        with proc.oneshot():
            try:
                pgid = os.getpgid(proc.pid)
                sid = os.getsid(proc.pid)
            except OSError:
                pgid = sid = -1
            return RawProc(
                pid=proc.pid,
                ppid=proc.ppid(),
                name=proc.name(),
                status=status_letter(proc.status()),
                create_time=proc.create_time(),
                uid=proc.uids().real,
                pgid=pgid,
                sid=sid,
            )

    def list_processes(self) -> dict[int, RawProc]:
        import psutil

        procs: dict[int, RawProc] = {}
        for proc in psutil.process_iter():
            try:
                procs[proc.pid] = self._raw(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return procs

    def list_one(self, pid: int) -> RawProc | None:
        import psutil

        try:
            return self._raw(psutil.Process(pid))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        import psutil

        try:
            return tuple(psutil.Process(pid).cmdline())
        except psutil.ZombieProcess:
            return ()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def num_fds(self, pid: int) -> tuple[int | None, str | None]:
        import psutil

        try:
            return psutil.Process(pid).num_fds(), None
        except psutil.AccessDenied:
            return None, "access denied"
        except psutil.NoSuchProcess:
            return None, "process gone"

    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        import psutil

        # psutil lists regular files only; sockets/pipes need lsof on macOS.
        files = psutil.Process(pid).open_files()
        return {f.fd: f.path for f in files}, "psutil open_files (files only)"

    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits:
        # No API reads another process's RLIMIT_NOFILE on macOS: say where the
        # number comes from. launchd agents (ppid 1) get the plist's limits,
        # else launchctl's maxfiles, else the launchd default.
        from hermes_top.core import limits_macos

        return limits_macos.infer_nofile_limits(
            proc,
            profile=profile,
            launch_agents_dir=self.launch_agents_dir,
            launchctl_maxfiles=self._launchctl_maxfiles,
        )

    def open_handle(self, identity: Identity, pidfd: int | None = None) -> ProcessHandle:
        import psutil

        if not psutil.pid_exists(identity.pid):
            raise ProcessLookupError(identity.pid)
        return ReverifyHandle(identity)


def current_platform() -> Platform:
    if sys.platform.startswith("linux") and hasattr(os, "pidfd_open"):
        return LinuxPlatform()
    return MacPlatform()
