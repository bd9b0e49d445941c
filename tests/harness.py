"""Test-side helpers: ps-level facts from /proc (read by hermes_top.core.procfs,
the one /proc reader), and the suite-wide registry of every PID the tests
started (checked at the end of the run)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hermes_top.core import procfs
from hermes_top.core.procfs import start_ticks
from hermes_top.sim import Simulation
from hermes_top.sim.base import poll_until
from hermes_top.sim.tracking import HAS_PIDFD, reap_pids


@dataclass(frozen=True)
class ProcFacts:
    """What ``ps`` would show for one process, read from /proc."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    sid: int
    #: 0 when the process has no controlling terminal.
    tty_nr: int
    start: int
    uid: int
    cmdline: tuple[str, ...]


def proc_facts(pid: int) -> ProcFacts | None:
    """Facts of ``pid``, or None if there is no such process."""
    fields = procfs.read_stat_fields(pid)
    raw = procfs.read_proc(pid)  # comm and uid: not among the stat fields
    argv = procfs.read_cmdline(pid)
    if fields is None or raw is None or argv is None:
        return None
    return ProcFacts(
        pid=pid,
        comm=raw.name,
        state=fields[0].decode(),
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        tty_nr=int(fields[4]),
        start=int(fields[19]),
        uid=raw.uid,
        cmdline=argv,
    )


def is_running(pid: int) -> bool:
    """``pid`` exists and has not exited (a zombie has exited)."""
    facts = proc_facts(pid)
    return facts is not None and facts.state != "Z"


def must_facts(pid: int) -> ProcFacts:
    facts = proc_facts(pid)
    assert facts is not None, f"process {pid} does not exist"
    return facts


def fd_count(pid: int) -> int:
    count, why = procfs.count_fds(pid)
    assert count is not None, f"cannot count the FDs of {pid}: {why}"
    return count


def nofile_limits(pid: int) -> tuple[str, str]:
    """(soft, hard) 'Max open files' from /proc/PID/limits, as text ("unlimited")."""
    limits = procfs.read_nofile_limits(pid)
    assert limits is not None, f"no 'Max open files' in /proc/{pid}/limits"
    soft, hard = limits
    return (
        "unlimited" if soft is None else str(soft),
        "unlimited" if hard is None else str(hard),
    )


def signal_ignored(pid: int, sig: int) -> bool:
    """Is ``sig`` in the process's ignored-signal mask (SigIgn in /proc/PID/status)?"""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    raise AssertionError(f"no SigIgn in /proc/{pid}/status")


def environ(pid: int) -> dict[str, str]:
    env = procfs.read_environ(pid)
    assert env is not None, f"cannot read the environment of {pid}"
    return env


def wait_until(
    cond: Callable[[], bool], what: str | Callable[[], str], timeout: float = 10.0
) -> None:
    """Poll ``cond`` with a short backoff; fail the test after ``timeout``.
    ``what`` may be a function: it is asked at the failure (what was seen by then)."""
    if not poll_until(cond, timeout):
        said = what() if callable(what) else what
        raise AssertionError(f"timed out after {timeout} s waiting for {said}")


class PidRegistry:
    """Every process the tests started, by (pid, start ticks): nothing may survive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[int, int], str] = {}

    def register(self, pid: int, what: str = "") -> None:
        """Call right after starting ``pid`` (while it cannot have been reaped)."""
        start = start_ticks(pid)
        if start is not None:
            with self._lock:
                self._known[(pid, start)] = what or str(pid)

    def register_identity(self, pid: int, start: int, what: str = "") -> None:
        """Register a process by an identity learnt elsewhere (e.g. from a child's report)."""
        with self._lock:
            self._known[(pid, start)] = what or str(pid)

    def register_sim(self, sim: Simulation) -> None:
        with self._lock:
            for t in sim.registry.all():
                self._known[(t.pid, int(t.start))] = f"sim {t.role}"

    def survivors(self) -> dict[int, str]:
        """Registered processes that still exist with the same identity."""
        reap_pids(pid for pid, _ in list(self._known))  # zombies reparented to us
        with self._lock:
            return {pid: what for (pid, st), what in self._known.items() if start_ticks(pid) == st}

    def kill_survivors(self, timeout: float = 10.0) -> None:
        with self._lock:
            known = list(self._known)
        for pid, st in known:
            kill_exact(pid, st)
        deadline = time.monotonic() + timeout
        while self.survivors() and time.monotonic() < deadline:
            time.sleep(0.02)


def kill_exact(pid: int, start: int) -> None:
    """SIGKILL (+SIGCONT) ``pid`` only if it is still the process that started at ``start``."""
    if HAS_PIDFD:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            if start_ticks(pid) == start:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
                signal.pidfd_send_signal(fd, signal.SIGCONT)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)
    elif start_ticks(pid) == start:
        os.kill(pid, signal.SIGKILL)


def children_of(ppid: int) -> list[int]:
    """PIDs whose parent is ``ppid`` (e.g. orphans adopted by the test process)."""
    return [p.pid for p in procfs.list_processes().values() if p.ppid == ppid]


def present(pids: Iterable[int], identities: dict[int, float]) -> list[int]:
    """Those of ``pids`` still running with the identity in ``identities``."""
    return [p for p in pids if start_ticks(p) == identities.get(p)]


#: The one registry for the whole test session (see conftest.py).
REGISTRY = PidRegistry()
