"""Processes exiting during a scan never raise out of the core."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import ProcessInfo
from hermes_top.core.platform import LinuxPlatform
from hermes_top.core.procfs import RawProc
from hermes_top.sim import Simulation
from tests.core.helpers import sim_env


def test_scans_survive_real_churn(sim: Simulation, tmp_path: Path) -> None:
    """Short-lived Hermes-shaped processes start and exit while we scan."""
    d = sim.start_dashboard(port=9331)
    stop = threading.Event()
    argv = [sim.python, "-c", "pass"]  # exits at once; the comm matches "python"

    def churn() -> None:
        while not stop.is_set():
            procs = [subprocess.Popen(argv, env=sim_env(sim)) for _ in range(4)]
            for p in procs:
                p.wait()

    worker = threading.Thread(target=churn)
    worker.start()
    core = Core(journal=Journal(tmp_path / "j.jsonl"))
    try:
        for _ in range(40):
            snap = core.scan()
            assert snap.get(d.pid) is not None
    finally:
        stop.set()
        worker.join()
        core.close()  # its pidfds


class VanishingPlatform(LinuxPlatform):
    """Every process vanishes right after phase 1: the races the kernel won't give on demand."""

    def __init__(self, victims: set[int]) -> None:
        self.victims = victims

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        return None if pid in self.victims else super().cmdline(pid)

    def num_fds(self, pid: int) -> tuple[int | None, str | None]:
        return (None, "process gone") if pid in self.victims else super().num_fds(pid)

    def list_one(self, pid: int) -> RawProc | None:
        return None if pid in self.victims else super().list_one(pid)

    def pipe_inodes(self, pid: int) -> dict[int, int] | None:
        return {} if pid in self.victims else super().pipe_inodes(pid)


def test_processes_vanishing_at_each_step_are_dropped(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9332)
    tab = sim.open_tab(d, path="attach")
    new = sim.restart_worker(tab, close_old=False)

    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    # The newest worker vanishes between phases; the stale twin's classification
    # must still work from what was seen, and nothing raises.
    core = Core(
        platform=VanishingPlatform({new}), scope=in_scope, journal=Journal(tmp_path / "j.jsonl")
    )
    snap = core.scan()
    assert snap.get(new) is None
    assert snap.get(d.pid) is not None
    # Asking about a process that is gone answers with a reason, not an exception.
    gone = sim.orphan_worker(d)
    sim.send_signal(gone, signal.SIGKILL)
    sim.wait_gone([gone])
    breakdown = core.fd_breakdown(gone)
    assert breakdown.total is None and breakdown.error is not None
    assert str(gone) in breakdown.error
