"""A real-process simulator of a leaking Hermes dashboard, for tests, benchmarks,
screenshots and ``hermes-top demo``.

It writes a throwaway package tree (``hermes_cli``, ``tui_gateway``) into a temp
dir and starts real processes whose argv match hermes-facts.md::

    <root>/venv/bin/python3 -m hermes_cli.main dashboard --port P --no-open
    node --expose-gc <root>/hermes_cli/tui_dist/entry.js          (spawn path)
    <root>/venv/bin/python3 -m tui_gateway.entry
    <root>/venv/bin/python3 -m tui_gateway.slash_worker --session-key 20260527_141503_a1b2c3

``<root>/venv/bin/python3`` is a symlink to the real interpreter, so every argv
names the root; that is how ``in_scope`` recognises the simulation's processes.

Usage::

    with Simulation(fd_soft_limit=256) as sim:
        d = sim.start_dashboard()                 # -> SimDashboard(.pid, .port, .nofile)
        t = sim.open_tab(d, "spawn")              # -> SimTab(.tui_pid, .entry_pid, .worker_pids)
        sim.close_tab_leaking(t)                  # entry + worker orphaned

Simulation(fd_soft_limit=256, *, tmp_parent=None, use_node=True, subreaper=True,
auto_reap=True, request_timeout=20.0):

- ``root``, ``python``, ``node`` (path or None), ``has_node``, ``is_subreaper``,
  ``dashboards``, ``tabs``
- ``start_dashboard(port=None, fd_soft_limit=None, *, command="dashboard") -> SimDashboard``
- ``kill_dashboard(d)``: SIGKILL it; its workers become orphans
- ``open_tab(d, path=None, session_key=None, *, ignore_term=False, model=None) -> SimTab``
- ``close_tab_leaking(t)``, ``close_tab_cleanly(t)``
- ``restart_worker(t, close_old=False, *, ignore_term=False) -> int`` (stale twin)
- ``spawn_stubborn_worker(d, path="attach") -> int`` (ignores SIGTERM)
- ``orphan_worker(d, *, stopped=False, ignore_term=False) -> int``
- ``orphan_stopped_worker(d) -> int`` (state T, reparented to the subreaper)
- ``zombie_tui(d) -> int`` (``[node] <defunct>`` under the dashboard)
- ``other_user_orphan(d, uid=65534) -> int`` (root only; else SimUnsupported)
- ``fill_fds(d, n) -> int``, ``fill_fds_to(d, ratio) -> int``, ``release_fds(d, n=None) -> int``,
  ``dashboard_fd_count(d) -> int``
- ``start_leak_rate(interval_s=3.0, max_processes=60, *, dashboards=None, seed=None)``,
  ``stop_leak_rate()``, ``leak_rate`` (the thread: ``ticks``, ``actions``, ``errors``)
- ``pids()``, ``all_pids()``, ``roles()``, ``expected_states()``, ``identities()``,
  ``is_present(pid)``, ``in_scope(cmdline, pid)``, ``send_signal(pid, sig) -> bool``,
  ``reap()``, ``wait_gone(pids, timeout=10.0)``
- ``close(*, raise_on_survivors=True, timeout=15.0)``: also run by ``__exit__`` and atexit.

Guarantees: it signals only processes it started, through a pidfd pinned to the
identity (start time) each process reported. On close it SIGKILLs (and SIGCONTs)
everything it started, orphans included, reaps what is reparented to it, and
removes the temp dir. As a safety net every simulated process exits within ~2 s
of the owning (test) process disappearing; while the owner lives, leaked
processes behave like old Hermes installs (no watchdog).
"""

from hermes_top.sim.base import (
    DASHBOARD,
    ENTRY,
    LIVE,
    ORPHAN,
    STALE,
    TUI,
    WORKER,
    ZOMBIE,
    SimDashboard,
    SimTab,
    new_session_key,
)
from hermes_top.sim.errors import SimCleanupError, SimError, SimUnsupported
from hermes_top.sim.scenario import Simulation
from hermes_top.sim.tracking import become_subreaper, is_subreaper, reap_pids

__all__ = [
    "DASHBOARD",
    "ENTRY",
    "LIVE",
    "ORPHAN",
    "STALE",
    "TUI",
    "WORKER",
    "ZOMBIE",
    "SimCleanupError",
    "SimDashboard",
    "SimError",
    "SimTab",
    "SimUnsupported",
    "Simulation",
    "become_subreaper",
    "is_subreaper",
    "new_session_key",
    "reap_pids",
]
