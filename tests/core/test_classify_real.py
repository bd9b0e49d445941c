"""Roles and states of real simulated process trees (spawn and attach paths)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.model import Role, State
from hermes_top.sim import Simulation
from tests.core.helpers import wait_for

needs_node = pytest.mark.skipif("not __import__('shutil').which('node')", reason="node not on PATH")


@needs_node
def test_spawn_path_roles_and_session(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9301)
    tab = sim.open_tab(d, path="spawn")
    assert tab.tui_pid and tab.entry_pid and tab.worker_pids
    snap = core.scan()
    dash = snap.get(d.pid)
    assert dash is not None and dash.role is Role.DASHBOARD and dash.state is State.LIVE
    tui = snap.get(tab.tui_pid)
    entry = snap.get(tab.entry_pid)
    worker = snap.get(tab.worker_pids[0])
    assert tui is not None and entry is not None and worker is not None
    assert (tui.role, entry.role, worker.role) == (Role.TUI, Role.GATEWAY_ENTRY, Role.SLASH_WORKER)
    assert {tui.state, entry.state, worker.state} == {State.LIVE}
    # Entry and worker are hosted by their tui; the tui by the dashboard.
    assert tui.host_pid == d.pid
    assert entry.host_pid == tab.tui_pid and worker.host_pid == tab.tui_pid
    assert {tui.dashboard_pid, entry.dashboard_pid, worker.dashboard_pid} == {d.pid}
    assert worker.session_key == tab.session_key
    assert tui.session_key == tab.session_key  # inherited from its worker
    info = snap.dashboard(d.pid)
    assert info is not None and info.port == 9301
    session = next(s for s in info.sessions if s.tui_pid == tab.tui_pid)
    assert session.session_key == tab.session_key
    assert set(session.pids) == {tab.tui_pid, tab.entry_pid, *tab.worker_pids}


def test_attach_path_worker_is_a_direct_child(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9302)
    tab = sim.open_tab(d, path="attach")
    (worker_pid,) = tab.worker_pids
    snap = core.scan()
    worker = snap.get(worker_pid)
    assert worker is not None
    assert worker.role is Role.SLASH_WORKER and worker.state is State.LIVE
    assert worker.ppid == d.pid and worker.host_pid == d.pid
    info = snap.dashboard(d.pid)
    assert info is not None
    assert any(s.session_key == tab.session_key and worker_pid in s.pids for s in info.sessions)


@needs_node
def test_killed_tab_leaves_orphans_with_a_reason(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9303)
    tab = sim.open_tab(d, path="spawn")
    sim.close_tab_leaking(tab)
    assert tab.entry_pid is not None
    snap = wait_for(
        core.scan,
        lambda s: (p := s.get(tab.entry_pid or 0)) is not None and p.state is State.ORPHAN,
    )
    entry = snap.get(tab.entry_pid)
    worker = snap.get(tab.worker_pids[0])
    assert entry is not None and worker is not None
    assert entry.state is State.ORPHAN and worker.state is State.ORPHAN
    assert "no live dashboard" in entry.reason
    assert "has no live host either" in worker.reason  # its entry is an orphan too
    assert entry.ppid == os.getpid()  # came back to the test process, the subreaper
    assert entry.dashboard_pid is None
    tui = snap.get(tab.tui_pid or 0)  # SIGKILLed: gone, or defunct until the dashboard waits
    assert tui is None or tui.state is State.ZOMBIE
    dash = snap.dashboard(d.pid)
    assert dash is not None and not any(entry.pid in s.pids for s in dash.sessions)


def test_restarted_worker_leaves_a_stale_twin(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9304)
    tab = sim.open_tab(d, path="attach")
    old = tab.worker_pids[0]
    new = sim.restart_worker(tab, close_old=False)
    snap = core.scan()
    old_p, new_p = snap.get(old), snap.get(new)
    assert old_p is not None and new_p is not None
    assert old_p.state is State.STALE and new_p.state is State.LIVE
    assert str(new) in old_p.reason and tab.session_key in old_p.reason
    assert old_p.session_key == new_p.session_key == tab.session_key
    # The stale twin's three pipes are what reaping would give back.
    dash = snap.dashboard(d.pid)
    assert dash is not None
    assert dash.reclaimable_fds == 3 and not dash.reclaimable_is_estimate


def test_restart_that_closes_the_old_worker_is_not_stale(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9305)
    tab = sim.open_tab(d, path="attach")
    new = sim.restart_worker(tab, close_old=True)
    snap = core.scan()
    assert snap.summary["stale"] == 0
    new_p = snap.get(new)
    assert new_p is not None and new_p.state is State.LIVE


@needs_node
def test_zombie_node_is_listed_under_its_dashboard(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9306)
    zpid = sim.zombie_tui(d)
    snap = wait_for(core.scan, lambda s: (p := s.get(zpid)) is not None and p.state is State.ZOMBIE)
    z = snap.get(zpid)
    assert z is not None
    assert z.state is State.ZOMBIE and z.role is Role.TUI and z.status == "Z"
    assert z.ppid == d.pid and str(d.pid) in z.reason and "dashboard" in z.reason
    assert z.num_fds is None


def _spawn_bait(argv: list[str], cwd: Path, registry: list[subprocess.Popen[bytes]]) -> int:
    # stdin is a pipe that stays open: `read` (a shell builtin) blocks, so sh forks nothing.
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    registry.append(proc)
    return proc.pid


def test_bait_processes_are_never_matched(sim: Simulation, tmp_path: Path) -> None:
    bait_file = tmp_path / "tui_gateway" / "slash_worker.py"
    bait_file.parent.mkdir()
    bait_file.write_text("# bait\n")
    started: list[subprocess.Popen[bytes]] = []
    try:
        pids = [
            _spawn_bait(
                ["sh", "-c", "read x; python3 -m tui_gateway.slash_worker"], tmp_path, started
            ),
            _spawn_bait(
                [
                    sys.executable,
                    "-c",
                    "import time; time.sleep(30)",
                    "-m",
                    "tui_gateway.slash_worker",
                ],
                tmp_path,
                started,
            ),
            _spawn_bait(["tail", "-f", str(bait_file)], tmp_path, started),
            _spawn_bait(
                [sys.executable, "-c", "import time; time.sleep(30)", "hermes dashboard"],
                tmp_path,
                started,
            ),
        ]
        time.sleep(0.2)
        snap = Core(pin=False).scan()  # unscoped, read-only: nothing may match the bait
        for pid in pids:
            assert snap.get(pid) is None, f"bait {pid} was matched"
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
