"""FD counts and limits of a simulated dashboard near its limit, and the breakdown."""

from __future__ import annotations

import os

from hermes_top.core.engine import Core
from hermes_top.sim import Simulation


def _proc_fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_dashboard_near_its_limit_is_reported(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9341, fd_soft_limit=64)
    for _ in range(3):
        sim.open_tab(d, path="attach")
    sim.fill_fds(d, 64 - _proc_fd_count(d.pid) - 4)
    snap = core.scan()
    dash = snap.dashboard(d.pid)
    assert dash is not None
    assert dash.num_fds == _proc_fd_count(d.pid)
    assert dash.limits.soft == 64 and dash.limits.source == "proc"
    assert not dash.limits.inferred
    ratio = dash.fd_ratio
    assert ratio is not None and ratio >= 0.9
    assert len(dash.sessions) == 3


def test_each_live_worker_costs_its_dashboard_three_pipes(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9342)
    before = core.scan().dashboard(d.pid)
    assert before is not None and before.num_fds is not None
    before_pipes = core.fd_breakdown(d.pid).counts.get("pipe", 0)
    sim.open_tab(d, path="attach")
    sim.open_tab(d, path="attach")
    after = core.scan().dashboard(d.pid)
    assert after is not None and after.num_fds is not None
    assert after.fd_budget is not None and before.fd_budget is not None
    assert after.fd_budget.live_pipes - before.fd_budget.live_pipes == 6
    breakdown = core.fd_breakdown(d.pid)
    assert breakdown.counts.get("pipe", 0) - before_pipes == 6
    assert breakdown.total == after.num_fds
    # And the browser's 3 connections per open tab, as sockets.
    assert after.fd_budget.sockets - before.fd_budget.sockets == 6
    assert breakdown.source == "/proc"
