"""Each leak mode produces the tree hermes-facts.md describes, checked from /proc."""

from __future__ import annotations

import os
import signal
import time

import pytest

from hermes_top.sim import Simulation, SimUnsupported
from tests.harness import environ, must_facts, proc_facts, signal_ignored, wait_until


def _need_node(sim: Simulation) -> None:
    if not sim.has_node:
        pytest.skip("node is not on PATH")


def test_closed_tab_with_killed_tui_orphans_entry_and_worker(sim: Simulation) -> None:
    _need_node(sim)
    d = sim.start_dashboard()
    tab = sim.open_tab(d, "spawn")
    assert tab.tui_pid is not None and tab.entry_pid is not None
    sim.close_tab_leaking(tab)

    assert proc_facts(tab.tui_pid) is None  # killed and reaped by the dashboard
    entry, worker = must_facts(tab.entry_pid), must_facts(tab.worker_pids[0])
    assert entry.ppid == os.getpid()  # reparented to the nearest subreaper: pytest
    assert worker.ppid == entry.pid
    # No watchdog (old installs): they keep running after their tui is gone.
    time.sleep(0.5)
    assert must_facts(entry.pid).state in "SR" and must_facts(worker.pid).state in "SR"
    states = sim.expected_states()
    assert states[entry.pid] == states[worker.pid] == "orphan"
    assert states[d.pid] == "live"


@pytest.mark.parametrize("path", ["attach", "spawn"])
def test_restart_without_closing_leaves_a_stale_twin(sim: Simulation, path: str) -> None:
    if path == "spawn":
        _need_node(sim)
    d = sim.start_dashboard()
    tab = sim.open_tab(d, path)
    old = tab.worker_pids[0]
    new = sim.restart_worker(tab, close_old=False)
    assert tab.worker_pids == [old, new]
    old_facts, new_facts = must_facts(old), must_facts(new)
    assert old_facts.cmdline == new_facts.cmdline  # same --session-key
    assert old_facts.cmdline[-1] == tab.session_key
    assert old_facts.ppid == new_facts.ppid == (d.pid if path == "attach" else tab.entry_pid)
    assert old_facts.start <= new_facts.start
    assert sim.expected_states()[old] == "stale"
    assert sim.expected_states()[new] == "live"

    # A correct restart closes the old worker.
    newer = sim.restart_worker(tab, close_old=True)
    assert proc_facts(new) is None
    assert tab.worker_pids == [old, newer]


def test_stubborn_worker_ignores_sigterm(sim: Simulation) -> None:
    d = sim.start_dashboard()
    stubborn = sim.spawn_stubborn_worker(d)
    normal = sim.open_tab(d, "attach").worker_pids[0]
    facts = must_facts(stubborn)
    assert facts.cmdline[1:4] == ("-m", "tui_gateway.slash_worker", "--session-key")
    assert len(facts.cmdline) == 5  # argv keeps the real shape
    assert environ(stubborn)["HERMES_SIM_IGNORE_TERM"] == "1"
    assert signal_ignored(stubborn, signal.SIGTERM)
    assert not signal_ignored(normal, signal.SIGTERM)

    assert sim.send_signal(stubborn, signal.SIGTERM)
    assert sim.send_signal(normal, signal.SIGTERM)
    wait_until(lambda: proc_facts(normal) is None, "the normal worker to exit on SIGTERM")
    assert must_facts(stubborn).state in "SR"
    assert sim.send_signal(stubborn, signal.SIGKILL)
    wait_until(lambda: proc_facts(stubborn) is None, "SIGKILL to end the stubborn worker")


def test_zombie_tui_is_never_waited_for(sim: Simulation) -> None:
    d = sim.start_dashboard()
    zombie = sim.zombie_tui(d)
    facts = must_facts(zombie)
    assert (facts.state, facts.ppid, facts.comm, facts.cmdline) == ("Z", d.pid, "node", ())
    time.sleep(0.3)
    assert must_facts(zombie).state == "Z"  # still not reaped
    assert sim.expected_states()[zombie] == "zombie"
    assert sim.in_scope((), zombie)  # no argv: known by PID + identity
    # Only restarting the parent clears it: the subreaper (pytest) then reaps it.
    sim.kill_dashboard(d)
    wait_until(lambda: proc_facts(zombie) is None, "the zombie to be reaped")


def test_stopped_orphan_worker(sim: Simulation) -> None:
    d = sim.start_dashboard()
    worker = sim.orphan_stopped_worker(d)
    facts = must_facts(worker)
    assert (facts.state, facts.ppid) == ("T", os.getpid())
    assert facts.cmdline[1:3] == ("-m", "tui_gateway.slash_worker")
    assert sim.expected_states()[worker] == "orphan"
    # A stopped process ignores SIGTERM until it is continued.
    assert sim.send_signal(worker, signal.SIGTERM)
    time.sleep(0.3)
    assert must_facts(worker).state == "T"
    assert sim.send_signal(worker, signal.SIGCONT)
    wait_until(lambda: proc_facts(worker) is None, "the continued worker to take its SIGTERM")


def test_other_user_orphan(sim: Simulation) -> None:
    d = sim.start_dashboard()
    try:
        worker = sim.other_user_orphan(d)
    except SimUnsupported as err:
        pytest.skip(str(err))
    facts = must_facts(worker)
    entry = must_facts(facts.ppid)
    assert facts.uid == entry.uid == 65534
    assert entry.cmdline[1:] == ("-m", "tui_gateway.entry")
    assert entry.ppid == os.getpid()  # its tui was killed: orphaned
    assert facts.cmdline[0].startswith(f"{sim.root}/")
    assert facts.cmdline[1:4] == ("-m", "tui_gateway.slash_worker", "--session-key")
    assert sim.expected_states()[worker] == "orphan"


def test_killed_dashboard_orphans_its_attach_workers(sim: Simulation) -> None:
    d = sim.start_dashboard()
    tab = sim.open_tab(d, "attach")
    sim.kill_dashboard(d)
    assert proc_facts(d.pid) is None
    facts = must_facts(tab.worker_pids[0])
    assert facts.ppid == os.getpid() and facts.state in "SR"
    assert sim.expected_states()[facts.pid] == "orphan"


def test_leak_rate_leaks_and_stays_bounded(sim: Simulation) -> None:
    d = sim.start_dashboard()
    cap = 14
    sim.start_leak_rate(interval_s=0.02, max_processes=cap, seed=7)
    rate = sim.leak_rate
    assert rate is not None
    want = ("stale", "skipped") + (("orphaned",) if sim.has_node else ())
    peak = 0

    def done() -> bool:
        nonlocal peak
        peak = max(peak, len(sim.pids()))
        return all(rate.actions[a] for a in want)

    wait_until(done, f"the leak rate to produce {want}", timeout=90)
    sim.stop_leak_rate()
    assert rate.errors == 0, rate.last_error
    assert peak <= cap
    states = set(sim.expected_states().values())
    assert "stale" in states
    if sim.has_node:
        assert "orphan" in states
    assert sim.is_present(d.pid)
