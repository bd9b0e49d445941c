"""The TUI's incremental scan: between full passes only new PIDs, the Hermes
processes and their ancestors are read again. Every verdict must still follow
what really happened (a stale parent must never make a live worker orphaned,
nor an orphan look live for longer than a tick)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.evidence import EVIDENCE_TTL_S
from hermes_top.core.exec_events import ExecEvents
from hermes_top.core.journal import Journal
from hermes_top.core.model import State
from hermes_top.core.platform import LinuxPlatform
from hermes_top.core.rules import ABANDON_MIN_AGE_S
from hermes_top.core.scan import BACKSTOP_PASS_S, FULL_PASS_S
from hermes_top.sim import Simulation
from hermes_top.sim.tracking import start_ticks
from tests.core.helpers import sim_env
from tests.harness import REGISTRY, kill_exact

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@pytest.fixture(autouse=True, params=["events", "rolling"])
def exec_events(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with the kernel's exec events (root) and with the rolling
    pass alone (what a user without them, and macOS, gets)."""
    if request.param == "rolling":
        monkeypatch.setattr(ExecEvents, "open", classmethod(lambda cls: None))
    else:
        probe = ExecEvents.open()
        if probe is None:
            pytest.skip("no exec events here (they need root and the host's namespaces)")
        probe.close()
    return str(request.param)


def _cores(
    sim: Simulation, tmp_path: Path, now: list[float], *, same_clock: bool = False
) -> tuple[Core, Core]:
    """An incremental core on the clock ``now`` and a full one (on the same clock
    when asked: the age of a worker decides whether it is judged at all)."""

    def scope(p: object) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)  # type: ignore[attr-defined]

    journal = Journal(tmp_path / "j.jsonl")
    tick = Core(scope=scope, journal=journal, incremental=True, clock=lambda: now[0])
    full = Core(scope=scope, journal=journal, clock=(lambda: now[0]) if same_clock else time.time)
    return tick, full


def _states(core: Core) -> dict[int, State]:
    return {p.pid: p.state for p in core.scan().processes}


def _execs_when_told(
    sim: Simulation, python: str, argv: list[str]
) -> tuple[subprocess.Popen[bytes], int]:
    """A ``python`` process that sleeps until a line on its stdin, then exec's
    ``argv``; registered for cleanup. (process, start ticks)"""
    script = "import os, sys; sys.stdin.readline(); os.execv(sys.argv[1], sys.argv[1:])"
    proc = subprocess.Popen(
        [python, "-c", script, *argv], env=sim_env(sim), stdin=subprocess.PIPE, cwd=sim.root
    )
    start = start_ticks(proc.pid)
    assert start is not None
    REGISTRY.register_identity(proc.pid, start, "exec test")
    return proc, start


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


def test_a_record_is_reused_only_while_what_it_was_built_from_holds(
    sim: Simulation, tmp_path: Path
) -> None:
    """An unchanged process's record is last tick's with its age moved (the same
    identity object inside); once its verdict changes it is built again, though
    the process itself did not change (the dashboard forgot its session)."""
    d = sim.start_dashboard(port=9377)
    tab = sim.open_tab(d, "attach")
    worker = tab.worker_pids[0]
    now = [time.time() + ABANDON_MIN_AGE_S + 60.0]  # settled, and old enough to be judged
    tick, full = _cores(sim, tmp_path, now, same_clock=True)
    try:
        tick.scan()
        now[0] += 1.0
        first, built = tick.scan(), dict(tick._cache.built)
        now[0] += 1.0
        second = tick.scan()
        reused = [
            pid
            for pid, (*_, record) in tick._cache.built.items()
            if pid in built and built[pid][-1].identity is record.identity and second.get(pid)
        ]
        # The worker sleeps, so nothing it is built from moves (the dashboard may: it
        # serves the asks, and its CPU time and RSS change).
        assert worker in reused, (reused, worker)
        for pid in reused:
            before, after = first.get(pid), second.get(pid)
            assert before is not None and after is not None
            assert after == dataclasses.replace(before, age_s=after.age_s)
            assert after.age_s == pytest.approx(second.taken_at - after.create_time)
        tick._cache.rolling_per_s = 0  # no slice reads the worker again: its candidate stays
        sim.abandon_tab(tab)  # the worker stays as it was, the dashboard's child
        for _ in range(int(EVIDENCE_TTL_S) + 1):  # until the dashboard is asked again
            now[0] += 1.0
            seen = tick.scan().get(worker)
            if seen is None or seen.state is not State.LIVE:
                break
        assert tick._cache.built[worker][0] is built[worker][0]  # the same candidate
        fresh = full.scan().get(worker)
        assert seen is not None and fresh is not None
        assert seen.state is State.ABANDONED
        assert (seen.state, seen.reason, seen.evidence) == (
            fresh.state,
            fresh.reason,
            fresh.evidence,
        )
    finally:
        tick.close()
        full.close()


def test_an_old_process_that_execs_into_a_worker_shows_within_a_full_pass(
    sim: Simulation, tmp_path: Path, exec_events: str
) -> None:
    """A process already in the cache as "not Hermes" that exec's into a worker's
    argv is only read again at the next full pass: it shows up then -- or at
    the next tick, with no rolling pass at all, when the kernel reports execs."""
    d = sim.start_dashboard(port=9372)
    argv = [sim.python, "-m", "tui_gateway.slash_worker", "--session-key", "20260101_000000_abcdef"]
    proc, start = _execs_when_told(sim, sys.executable, argv)
    now = [time.time() + 60.0]  # the clock says the sleeper is old (argv settled)
    tick, full = _cores(sim, tmp_path, now)
    try:
        assert proc.pid not in _states(tick)
        assert tick._cache.reader is not None
        assert tick._cache.reader.execs_tracked is (exec_events == "events")
        if exec_events == "events":
            tick._cache.rolling_per_s = 0.0  # only the exec event can tell
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
        if exec_events == "events":
            assert seen_at == 1
    finally:
        tick.close()
        full.close()
        kill_exact(proc.pid, start)
        proc.wait(timeout=10)
        assert d.pid


def test_a_repeated_full_scan_reads_every_argv_again(sim: Simulation, tmp_path: Path) -> None:
    """A full scan (the CLI, a guard tick, a plan's fresh scan) never trusts a
    cached argv: a python process can exec into a dashboard and keep its name,
    and judged on its old argv the dashboard's workers would be orphans."""
    argv = [sim.python, "-m", "tui_gateway.slash_worker", "--session-key", "20260101_000000_fedcba"]
    # The same interpreter before and after: the process keeps its name.
    proc, start = _execs_when_told(sim, sim.python, argv)
    now = [time.time() + 60.0]  # old: its argv has settled in the cache
    _, full = _cores(sim, tmp_path, now, same_clock=True)
    try:
        assert proc.pid not in _states(full)
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 10
        while _argv_now(proc.pid) != argv and time.monotonic() < deadline:
            time.sleep(0.02)
        now[0] += 1.0  # well within the time a cached argv was trusted before
        assert proc.pid in _states(full)
    finally:
        full.close()
        kill_exact(proc.pid, start)
        proc.wait(timeout=10)


def _argv_now(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().rstrip(b"\0").split(b"\0")]


def test_a_tick_reads_at_most_its_rolling_slice_of_the_others(
    sim: Simulation, tmp_path: Path
) -> None:
    """Past the watched processes and new PIDs, a tick reads only a slice of the
    rest (its cost must follow the Hermes processes, not the machine's), and a
    run of ticks still reads every process."""
    d = sim.start_dashboard(port=9376)
    sim.open_tab(d, "attach")
    now = [time.time()]
    tick, full = _cores(sim, tmp_path, now)
    try:
        _states(tick)
        cache = tick._cache
        assert cache.reader is not None
        cache.rolling_per_s = 7.0
        total = len(cache.reader.procs)
        period = BACKSTOP_PASS_S if cache.reader.execs_tracked else FULL_PASS_S
        per_tick = math.ceil(min(total / period, 7.0))  # one tick a second
        rolled: set[int] = set()
        for _ in range(3):
            now[0] += 1.0
            _states(tick)
            # An exec anywhere on the machine is read too: it is not the slice.
            sliced = getattr(cache.reader, "sliced", cache.reader.rolled)
            assert len(sliced) <= per_tick
            rolled |= sliced
        assert len(rolled) == min(3 * per_tick, total)
        cache.rolling_per_s = float(total)  # a cycle within its period again
        before = cache.reader.cycles
        for _ in range(int(period) + 1):
            now[0] += 1.0
            assert _states(tick) == _states(full)
            rolled |= cache.reader.rolled
        assert cache.reader.cycles > before
        assert len(rolled & cache.reader.procs.keys()) >= len(cache.reader.procs) - 50
    finally:
        tick.close()
        full.close()


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


def test_a_new_worker_under_a_stale_cached_parent_is_judged_on_a_fresh_chain(
    sim: Simulation, tmp_path: Path
) -> None:
    """The dashboard's entry in the kept table predates its exec (a shell's name,
    a plain argv), as when a process forks, is cached, then exec's into a
    dashboard. A tab opened before the next full pass brings new PIDs whose
    chain runs through that stale entry: they must be judged on a fresh one."""
    d = sim.start_dashboard(port=9374)
    now = [time.time() + 60.0]  # the clock says the dashboard is old: not re-read as young
    tick, full = _cores(sim, tmp_path, now)
    try:
        _states(tick)  # the full first pass
        cache = tick._cache
        assert cache.reader is not None
        real = cache.reader.procs[d.pid]
        stale = real._replace(name="bash")  # as it was before its exec
        cache.reader.procs[d.pid] = stale
        cache.argv[(stale.pid, stale.create_time, stale.name)] = (("bash",), None, now[0])
        cache.watch = set()  # nothing found last time: the dashboard is not watched
        cache.rolling_per_s = 0.0  # and the rolling slice must not happen to read it
        assert d.pid not in cache.young
        tab = sim.open_tab(d, "attach")
        now[0] += 1.0
        assert now[0] - cache.full_at < FULL_PASS_S  # an incremental tick
        states = _states(tick)
        assert states[tab.worker_pids[0]] is not State.ORPHAN, states
        assert states[d.pid] is State.LIVE  # the dashboard was read again, and found
        assert cache.reader.procs[d.pid].name == real.name
    finally:
        tick.close()
        full.close()


def test_a_fresh_scan_judges_as_the_full_scan_does(sim: Simulation, tmp_path: Path) -> None:
    """An incremental core reuses a dashboard's evidence (its session list, its
    browser connections) for a few seconds; a plan is made from
    ``scan(fresh=True)``, which reuses nothing."""
    d = sim.start_dashboard(port=9375)
    kept, dropped = sim.open_tab(d, "attach"), sim.open_tab(d, "attach")
    now = [time.time() + ABANDON_MIN_AGE_S + 60.0]  # old enough to be judged
    tick, full = _cores(sim, tmp_path, now, same_clock=True)
    try:
        assert _states(tick)[dropped.worker_pids[0]] is State.LIVE  # evidence cached
        sim.abandon_tab(dropped)  # the dashboard forgets it: the cache does not know
        now[0] += 1.0
        assert now[0] - tick._cache.full_at < FULL_PASS_S
        fresh = {p.pid: p.state for p in tick.scan(fresh=True).processes}
        assert fresh[dropped.worker_pids[0]] is State.ABANDONED
        assert fresh[kept.worker_pids[0]] is State.LIVE
        assert fresh == _states(full)
        assert tick._cache.incremental  # and the core goes on ticking incrementally
    finally:
        tick.close()
        full.close()


class _RewritingPlatform(LinuxPlatform):
    """argv of ``pid`` rewritten in place (as setproctitle does) once ``rewritten``
    is set: its stat line stays the same, only reading argv again shows it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rewritten: tuple[str, ...] | None = None

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        if pid == self.pid and self.rewritten is not None:
            return self.rewritten
        return super().cmdline(pid)


def test_argv_rewritten_in_place_shows_within_a_full_pass(sim: Simulation, tmp_path: Path) -> None:
    """A Hermes process whose stat line never changes (it is stopped) keeps last
    tick's candidate only until its argv is due again: then the new argv counts
    (within FULL_PASS_S, or BACKSTOP_PASS_S while every exec is reported)."""
    d = sim.start_dashboard(port=9373)
    worker = sim.orphan_worker(d, stopped=True)
    platform = _RewritingPlatform(worker)
    now = [time.time() + 60.0]  # argv settled: only the full-pass interval re-reads it
    tick = Core(
        scope=lambda p: sim.in_scope(p.identity.cmdline, p.pid),
        journal=Journal(tmp_path / "j.jsonl"),
        incremental=True,
        clock=lambda: now[0],
        platform=platform,
    )
    try:
        before = tick.scan().get(worker)
        assert before is not None and before.session_key is not None
        argv = list(before.identity.cmdline)
        new_key = "20260101_000000_c0ffee"
        argv[argv.index(before.session_key)] = new_key
        platform.rewritten = tuple(argv)
        period = int(tick._cache.pass_period())
        keys = []
        for _ in range(period + 2):
            now[0] += 1.0
            seen = tick.scan().get(worker)
            assert seen is not None
            keys.append(seen.session_key)
        assert new_key in keys[:period], keys
        # Not at once: the test would prove nothing if every tick read argv again.
        assert keys[0] == before.session_key, keys
    finally:
        tick.close()
