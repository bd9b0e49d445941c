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
import resource
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from hermes_top.core import procfs
from hermes_top.core.escape import escape_control
from hermes_top.core.model import FdLimits, Identity
from hermes_top.core.pinned import (
    PidfdHandle,
    ProcessHandle,
    ReverifyHandle,
    status_letter,
)
from hermes_top.core.procfs import RawProc, TcpSocket
from hermes_top.core.rolling import RoundRobin

if TYPE_CHECKING:
    import psutil


#: (process, profile) -> the limits it runs with, inferred (macOS).
LimitSource = Callable[[RawProc, str | None], FdLimits]


class ProcessTable(Protocol):
    """Every process's cheap facts, kept between the ticks of an incremental scan."""

    procs: dict[int, RawProc]

    @property
    def cycles(self) -> int:
        """Rolling cycles begun (core/rolling.py): a new value, every PID was read again."""
        ...

    #: The PIDs the last ``update`` read as its rolling slice.
    rolled: set[int]

    def read_all(self) -> set[int]:
        """Read every process again; the PIDs read."""
        ...

    def update(
        self,
        refresh: Iterable[int],
        rolling: int = 0,
        suspect: Callable[[str], bool] | None = None,
        young: Iterable[int] = (),
    ) -> set[int]:
        """Drop the gone, read the new, ``refresh``, ``young`` and the next
        ``rolling`` of the others; the PIDs read. ``suspect``: the names whose
        young or rolled processes are read whole; the others may be read only
        if their name changed."""
        ...

    def track_execs(self) -> bool:
        """Have the kernel report each exec from now on, where it can; whether it will."""
        ...

    @property
    def execs_tracked(self) -> bool:
        """Every exec since a whole rolling cycle ago was reported (the rolling
        pass is then only a backstop)."""
        ...

    def close(self) -> None:
        """Release what the table keeps open between ticks."""
        ...


class _PsutilTable:
    """macOS: ``psutil.pids()`` is one sysctl; each process read costs far more."""

    def __init__(self, read: Callable[[psutil.Process], RawProc]) -> None:
        self.procs: dict[int, RawProc] = {}
        self._read = read
        self._rolling = RoundRobin()
        self.rolled: set[int] = set()

    @property
    def cycles(self) -> int:
        return self._rolling.cycles

    def _read_pids(self, pids: Iterable[int]) -> set[int]:
        import psutil

        read: set[int] = set()
        for pid in pids:
            try:
                self.procs[pid] = self._read(psutil.Process(pid))
                read.add(pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                self.procs.pop(pid, None)
        return read

    def read_all(self) -> set[int]:
        import psutil

        self.procs, self.rolled = {}, set()
        return self._read_pids(psutil.pids())

    def update(
        self,
        refresh: Iterable[int],
        rolling: int = 0,
        suspect: Callable[[str], bool] | None = None,
        young: Iterable[int] = (),
    ) -> set[int]:
        import psutil

        # ``suspect`` is not used: one psutil read gives the name and the rest.
        refresh = {*refresh, *young}
        now = set(psutil.pids())
        for pid in [p for p in self.procs if p not in now]:
            del self.procs[pid]
        wanted = {pid for pid in now if pid not in self.procs}
        wanted.update(pid for pid in refresh if pid in now)
        self.rolled = set(self._rolling.take(self.procs.keys(), rolling))
        return self._read_pids(wanted | self.rolled)

    def track_execs(self) -> bool:
        return False  # no exec events here: the rolling pass finds execs

    @property
    def execs_tracked(self) -> bool:
        return False

    def close(self) -> None:
        pass  # nothing kept open


class Platform(ABC):
    name: str
    #: True when reclaimable FDs are counted exactly (pipe inodes are visible).
    exact_reclaim: bool

    @abstractmethod
    def process_table(self) -> ProcessTable:
        """A table of every process's cheap facts (``uid`` may be -1, see
        ``with_uid``), kept up to date between ticks by its ``update``."""

    def with_uid(self, proc: RawProc) -> RawProc | None:
        """``proc`` with its uid filled in (None if it is gone)."""
        return proc

    @abstractmethod
    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        """argv; None if the process is gone. PermissionError if we may not read
        it; ProcUnreadable when it could not be read (EMFILE ...)."""

    @abstractmethod
    def num_fds(self, pid: int) -> tuple[int | None, str | None]: ...

    @abstractmethod
    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        """(fd → target, source label). Raises OSError/psutil errors when unreadable."""

    def pipe_inodes(self, pid: int) -> dict[int, int] | None:
        """fd → pipe inode, or None where the platform cannot see pipe identities."""
        return None

    @abstractmethod
    def rss(self, pid: int) -> int | None:
        """Resident memory in bytes, None when unreadable."""

    def tcp_sockets(self) -> list[TcpSocket] | None:
        """This namespace's TCP sockets, to match a dashboard's connections to
        their other ends; None where the platform does not show them."""
        return None

    def environ(self, pid: int) -> dict[str, str] | None:
        """A process's environment where readable (a hint, never proof)."""
        return None

    @abstractmethod
    def cwd(self, pid: int) -> str | None:
        """A process's working directory, None when unreadable."""

    def nofile_of(self, pid: int) -> tuple[int | None, int | None] | None:
        """The NOFILE limits read from the process itself (None = unlimited),
        or None where they cannot be read (macOS: only inferred, see nofile_limits)."""
        return None

    def groups_of(self, pid: int) -> tuple[int, list[int]] | None:
        """(gid, supplementary groups) of a process, where readable."""
        return None

    @abstractmethod
    def exe(self, pid: int) -> str | None:
        """The executable a process runs (its interpreter for a script), None when unreadable."""

    @abstractmethod
    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits: ...

    @abstractmethod
    def open_handle(
        self, identity: Identity, pidfd: int | None = None, trusted: bool = False
    ) -> ProcessHandle:
        """Pin a process for signalling (``pidfd``: a scan-time pin we now own;
        ``trusted``: its start time was checked when it was pinned).
        Raises ProcessLookupError if gone."""

    def open_pidfd(self, pid: int) -> int | None:
        """A pidfd for ``pid`` where the platform has them, else None."""
        return None

    def fd_headroom(self) -> int:
        """How many more FDs this process may open now (soft limit minus open ones)."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return 1 << 30
        try:
            used = len(os.listdir(self.own_fd_dir))
        except OSError:
            return 0  # cannot even open a directory: no room at all
        return soft - used

    #: Where this process's own FDs are listed.
    own_fd_dir = "/dev/fd"

    @abstractmethod
    def list_one(self, pid: int) -> RawProc | None: ...


class LinuxPlatform(Platform):
    name = "linux"
    exact_reclaim = True
    own_fd_dir = "/proc/self/fd"

    def process_table(self) -> ProcessTable:
        return procfs.ProcTable()

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

    def rss(self, pid: int) -> int | None:
        return procfs.read_rss(pid)

    def tcp_sockets(self) -> list[TcpSocket] | None:
        return procfs.tcp_sockets()

    def environ(self, pid: int) -> dict[str, str] | None:
        return procfs.read_environ(pid)

    def cwd(self, pid: int) -> str | None:
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return None

    def nofile_of(self, pid: int) -> tuple[int | None, int | None] | None:
        return procfs.read_nofile_limits(pid)

    def groups_of(self, pid: int) -> tuple[int, list[int]] | None:
        return procfs.read_groups(pid)

    def exe(self, pid: int) -> str | None:
        try:
            return os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None

    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits:
        limits = procfs.read_nofile_limits(proc.pid)
        if limits is None:
            return FdLimits(None, None, "unknown", True, f"/proc/{proc.pid}/limits unreadable")
        return FdLimits(limits[0], limits[1], "proc", False, f"/proc/{proc.pid}/limits")

    def open_handle(
        self, identity: Identity, pidfd: int | None = None, trusted: bool = False
    ) -> ProcessHandle:
        return PidfdHandle(identity, pidfd, trusted)

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

    def __init__(self, limits: LimitSource | None = None) -> None:
        #: Where a dashboard's limit is inferred from (no API reads another
        #: process's RLIMIT_NOFILE on macOS): the launchd plist chain in
        #: hermes_top/service/limits_macos.py, injected by the CLI.
        self._limits = limits

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
                name=escape_control(proc.name()),
                status=status_letter(proc.status()),
                create_time=proc.create_time(),
                uid=proc.uids().real,
                pgid=pgid,
                sid=sid,
                cpu_s=_cpu_seconds(proc),
            )

    def process_table(self) -> ProcessTable:
        return _PsutilTable(self._raw)

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
        except psutil.NoSuchProcess:
            return None
        except psutil.AccessDenied as err:
            raise PermissionError(f"argv of PID {pid} is not readable") from err

    def num_fds(self, pid: int) -> tuple[int | None, str | None]:
        import psutil

        try:
            return psutil.Process(pid).num_fds(), None
        except psutil.AccessDenied:
            return None, "access denied"
        except psutil.NoSuchProcess:
            return None, "process gone"

    def rss(self, pid: int) -> int | None:
        import psutil

        try:
            return int(psutil.Process(pid).memory_info().rss)
        except (psutil.Error, OSError):
            return None

    def environ(self, pid: int) -> dict[str, str] | None:
        import psutil

        try:
            # Often {} on macOS even for our own processes (see hermes-facts.md).
            return dict(psutil.Process(pid).environ()) or None
        except (psutil.Error, OSError):
            return None

    def cwd(self, pid: int) -> str | None:
        import psutil

        try:
            return str(psutil.Process(pid).cwd()) or None
        except (psutil.Error, OSError):
            return None

    def exe(self, pid: int) -> str | None:
        import psutil

        try:
            return str(psutil.Process(pid).exe()) or None
        except (psutil.Error, OSError):
            return None

    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        import psutil

        # psutil lists regular files only; sockets/pipes need lsof on macOS.
        files = psutil.Process(pid).open_files()
        return {f.fd: f.path for f in files}, "psutil open_files (files only)"

    def nofile_limits(self, proc: RawProc, profile: str | None = None) -> FdLimits:
        if self._limits is None:
            return FdLimits(None, None, "unknown", True, "no limit source (macOS cannot read it)")
        return self._limits(proc, profile)

    def open_handle(
        self, identity: Identity, pidfd: int | None = None, trusted: bool = False
    ) -> ProcessHandle:
        import psutil

        if not psutil.pid_exists(identity.pid):
            raise ProcessLookupError(identity.pid)
        return ReverifyHandle(identity)


def _cpu_seconds(proc: psutil.Process) -> float:
    import psutil

    try:
        times = proc.cpu_times()
    except (psutil.Error, OSError):
        return 0.0
    return float(times.user + times.system)


def current_platform() -> Platform:
    if sys.platform.startswith("linux") and hasattr(os, "pidfd_open"):
        return LinuxPlatform()
    return MacPlatform()
