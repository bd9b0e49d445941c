"""The simulated process tree has the shapes of hermes-facts.md, checked from /proc."""

from __future__ import annotations

import errno
import os
import re

import pytest

from hermes_top.core.procfs import fd_targets
from hermes_top.sim import SimError, Simulation, SimUnsupported
from tests.harness import environ, fd_count, must_facts, nofile_limits, wait_until

SESSION_KEY = re.compile(r"^\d{8}_\d{6}_[0-9a-f]{6}$")


def test_dashboard_argv_parent_and_fd_limit(sim: Simulation) -> None:
    d = sim.start_dashboard()
    facts = must_facts(d.pid)
    assert facts.cmdline == (
        sim.python, "-m", "hermes_cli.main", "dashboard", "--port", "9119", "--no-open",
    )  # fmt: skip
    assert sim.python == f"{sim.root}/venv/bin/python3"
    assert facts.ppid == os.getpid()
    assert facts.sid == d.pid  # a service: its own session, no terminal
    assert nofile_limits(d.pid)[0] == "256"
    assert d.nofile[0] == 256

    other = sim.start_dashboard(fd_soft_limit=300, command="serve")
    assert must_facts(other.pid).cmdline[3:6] == ("serve", "--port", "9120")
    assert nofile_limits(other.pid)[0] == "300"


def test_attach_path_worker_is_a_direct_child_of_the_dashboard(sim: Simulation) -> None:
    d = sim.start_dashboard()
    tab = sim.open_tab(d, "attach", model="dummy-model")
    assert tab.tui_pid is None and tab.entry_pid is None
    (worker,) = tab.worker_pids
    facts = must_facts(worker)
    assert facts.cmdline == (
        sim.python, "-m", "tui_gateway.slash_worker", "--session-key", tab.session_key,
        "--model", "dummy-model",
    )  # fmt: skip
    assert SESSION_KEY.match(tab.session_key)
    assert facts.ppid == d.pid
    assert (facts.sid, facts.pgid, facts.tty_nr) == (worker, worker, 0)  # own session, no tty
    assert facts.state in "SR"
    assert sim.roles()[worker] == "slash_worker"
    assert sim.expected_states()[worker] == "live"


def test_spawn_path_node_entry_worker_chain(sim: Simulation) -> None:
    if not sim.has_node:
        pytest.skip("node is not on PATH")
    d = sim.start_dashboard()
    tab = sim.open_tab(d, "spawn")
    assert tab.tui_pid is not None and tab.entry_pid is not None
    tui, entry, worker = (must_facts(p) for p in (tab.tui_pid, tab.entry_pid, tab.worker_pids[0]))

    assert tui.cmdline == ("node", "--expose-gc", f"{sim.root}/hermes_cli/tui_dist/entry.js")
    assert tui.comm == "node"
    assert tui.ppid == d.pid
    assert tui.sid == tui.pid == tui.pgid  # setsid: session leader
    assert tui.tty_nr != 0  # a PTY as controlling tty
    env = environ(tui.pid)
    assert env["HERMES_TUI_DASHBOARD"] == "1" and env["HERMES_TUI_INLINE"] == "1"
    assert env["HERMES_PYTHON"] == sim.python

    assert entry.cmdline == (sim.python, "-m", "tui_gateway.entry")
    assert entry.ppid == tui.pid
    assert (entry.sid, entry.pgid, entry.tty_nr) == (tui.sid, tui.pgid, tui.tty_nr)

    assert worker.cmdline == (
        sim.python, "-m", "tui_gateway.slash_worker", "--session-key", tab.session_key,
    )  # fmt: skip
    assert worker.ppid == entry.pid
    assert (worker.sid, worker.tty_nr) == (worker.pid, 0)  # start_new_session=True
    assert sim.roles() == {
        d.pid: "dashboard", tui.pid: "tui", entry.pid: "gateway_entry", worker.pid: "slash_worker",
    }  # fmt: skip


def _pipes(pid: int) -> int:
    return sum(1 for t in fd_targets(pid).values() if t.startswith("pipe:"))


def test_each_live_worker_costs_the_dashboard_three_fds(sim: Simulation) -> None:
    d = sim.start_dashboard()
    base, base_pipes = fd_count(d.pid), _pipes(d.pid)
    tabs = [sim.open_tab(d, "attach") for _ in range(3)]
    assert _pipes(d.pid) == base_pipes + 9
    # A browser holds 3 connections per open tab: the dashboard holds their sockets.
    wait_until(lambda: fd_count(d.pid) == base + 9 + 9, "the browser connections")
    # A stale twin is one more live worker: three more pipes.
    sim.restart_worker(tabs[0], close_old=False)
    assert _pipes(d.pid) == base_pipes + 12
    # Killing a leaked worker frees its pipes once the dashboard reaps it.
    assert sim.send_signal(tabs[0].worker_pids[0], 9)
    wait_until(
        lambda: _pipes(d.pid) == base_pipes + 9, "the dashboard to close the dead worker's pipes"
    )
    for tab in tabs:
        sim.close_tab_cleanly(tab)
    wait_until(lambda: fd_count(d.pid) == base, "the tabs' pipes and sockets to close")
    assert sim.dashboard_fd_count(d) == base  # the dashboard counts the same


def test_emfile_is_reachable_and_reported_not_fatal(sim: Simulation) -> None:
    d = sim.start_dashboard(fd_soft_limit=40)
    opened = sim.fill_fds(d, 1000)
    assert 0 < opened < 40
    assert fd_count(d.pid) == 40  # exactly at its soft limit
    with pytest.raises(SimError) as caught:
        sim.open_tab(d, "attach")
    assert caught.value.errno == errno.EMFILE
    assert must_facts(d.pid).state in "SR"  # still running
    assert "Too many open files" in d.log_path.read_text()
    # Freeing FDs makes it usable again: it reported the error and carried on.
    assert sim.release_fds(d, 10) == 10
    tab = sim.open_tab(d, "attach")
    assert must_facts(tab.worker_pids[0]).ppid == d.pid


def test_without_node_only_the_attach_path_is_simulated() -> None:
    with Simulation(use_node=False) as sim:
        assert not sim.has_node
        d = sim.start_dashboard()
        with pytest.raises(SimUnsupported):
            sim.open_tab(d, "spawn")
        tab = sim.open_tab(d)
        assert tab.path == "attach"
        assert must_facts(tab.worker_pids[0]).ppid == d.pid
        # Leak modes still work: the dashboard starts the entry itself.
        stopped = sim.orphan_stopped_worker(d)
        assert (must_facts(stopped).state, must_facts(stopped).ppid) == ("T", os.getpid())
        zombie = must_facts(sim.zombie_tui(d))
        assert (zombie.state, zombie.comm, zombie.ppid) == ("Z", "node", d.pid)
