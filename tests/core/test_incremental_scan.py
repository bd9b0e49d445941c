"""The TUI's incremental scan: between full passes only new PIDs, the Hermes
processes and their ancestors are read again. Every verdict must still follow
what really happened (a stale parent must never make a live worker orphaned,
nor an orphan look live for longer than a tick)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import State
from hermes_top.core.scan import FULL_PASS_S
from hermes_top.sim import Simulation
from hermes_top.sim.tracking import start_ticks
from tests.core.helpers import sim_env
from tests.harness import REGISTRY, kill_exact

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _cores(sim: Simulation, tmp_path: Path, now: list[float]) -> tuple[Core, Core]:
    def scope(p: object) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)  # type: ignore[attr-defined]

    journal = Journal(tmp_path / "j.jsonl")
    tick = Core(scope=scope, journal=journal, incremental=True, clock=lambda: now[0])
    full = Core(scope=scope, journal=journal)
    return tick, full


def _states(core: Core) -> dict[int, State]:
    return {p.pid: p.state for p in core.scan().processes}


def test_a_parent_that_dies_between_ticks_is_seen_at_once(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9371)
    tab = sim.open_tab(d, "attach")
    now = [time.time()]
    tick, full = _cores(sim, tmp_path, now)
    try:
        assert _states(tick)[tab.worker_pids[0]] is State.LIVE  # the full first pass
        now[0] += 1.0
        assert _states(tick)[tab.worker_pids[0]] is State.LIVE  # an incremental tick
        sim.kill_dashboard(d)  # its worker is reparented under the cache's feet
        now[0] += 1.0  # still well before the next full pass
        assert now[0] - tick._cache.full_at < FULL_PASS_S
        states = _states(tick)
        assert states[tab.worker_pids[0]] is State.ORPHAN
        assert states == _states(full)  # the incremental verdicts are the full scan's
    finally:
        tick.close()
        full.close()


def test_an_old_process_that_execs_into_a_worker_shows_within_a_full_pass(
    sim: Simulation, tmp_path: Path
) -> None:
    """A process already in the cache as "not Hermes" that exec's into a worker's
    argv is only read again at the next full pass: it shows up then."""
    d = sim.start_dashboard(port=9372)
    env = sim_env(sim)
    argv = [sim.python, "-m", "tui_gateway.slash_worker", "--session-key", "20260101_000000_abcdef"]
    # Sleeps until told, then exec's: long enough to have settled in the argv cache.
    script = "import os, sys; sys.stdin.readline(); os.execv(sys.argv[1], sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *argv], env=env, stdin=subprocess.PIPE, cwd=sim.root
    )
    start = start_ticks(proc.pid)
    assert start is not None
    REGISTRY.register_identity(proc.pid, start, "exec test")
    now = [time.time() + 60.0]  # the clock says the sleeper is old (argv settled)
    tick, full = _cores(sim, tmp_path, now)
    try:
        assert proc.pid not in _states(tick)
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 10
        while proc.pid not in _states(full) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.pid in _states(full)
        seen_at = None
        for step in range(1, 8):
            now[0] += 1.0
            if proc.pid in _states(tick):
                seen_at = step
                break
        assert seen_at is not None and seen_at <= FULL_PASS_S, seen_at
    finally:
        tick.close()
        full.close()
        kill_exact(proc.pid, start)
        proc.wait(timeout=10)
        assert d.pid


def test_incremental_verdicts_equal_full_ones_through_churn(
    sim: Simulation, tmp_path: Path
) -> None:
    d = sim.start_dashboard(port=9373)
    tabs = [sim.open_tab(d, "attach") for _ in range(3)]
    now = [time.time()]
    tick, full = _cores(sim, tmp_path, now)
    try:
        _states(tick)
        steps = [
            lambda: sim.restart_worker(tabs[0], close_old=False),  # a stale twin
            lambda: sim.abandon_tab(tabs[1]),
            lambda: sim.close_tab_cleanly(tabs[2]),
            lambda: sim.orphan_worker(d),
        ]
        for step in steps:
            step()
            now[0] += 1.0
            assert _states(tick) == _states(full)
    finally:
        tick.close()
        full.close()
