"""The guard against real simulated processes: it reaps what leaked before it
started, never a live worker, warns before the FD limit, and survives a journal
it cannot write."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from hermes_top.commands.guard import trend_source
from hermes_top.core.engine import Core
from hermes_top.core.guard import AlertKind, Guard, GuardConfig
from hermes_top.core.journal import Journal, read_journal
from hermes_top.core.model import Outcome, ProcessInfo, Snapshot, State
from hermes_top.sim import Simulation
from tests.core.helpers import scoped_core, wait_for
from tests.harness import is_running


class Lines(list[str]):
    def has(self, text: str) -> bool:
        return any(text in line for line in self)


def _orphans_seen(pids: list[int]) -> Callable[[Snapshot], bool]:
    def ready(s: Snapshot) -> bool:
        return all((p := s.get(x)) is not None and p.state is State.ORPHAN for x in pids)

    return ready


def _signalled(journal: pathlib.Path) -> set[int]:
    if not journal.exists():
        return set()
    return {r["pid"] for r in read_journal(journal) if r.get("event") == "signal"}


def test_guard_reaps_a_leak_it_did_not_see_start(
    sim: Simulation, core: Core, journal_path: pathlib.Path
) -> None:
    d = sim.start_dashboard(port=9411)
    live = sim.open_tab(d, path="attach")
    leaked = [sim.orphan_worker(d), sim.orphan_worker(d, ignore_term=True)]
    wait_for(core.scan, _orphans_seen(leaked))
    log = Lines()
    # Built only now: it never saw these processes start or leak.
    guard = Guard(core, GuardConfig(min_age_s=0.0, grace_s=1.0), log=log.append)
    report = guard.tick()
    assert report.ok, report.error
    assert report.reap is not None
    outcomes = {r.pid: r.outcome for r in report.reap.results}
    assert outcomes == {leaked[0]: Outcome.TERMINATED, leaked[1]: Outcome.KILLED}
    for pid in leaked:
        assert not is_running(pid)
    assert all(is_running(p) for p in live.worker_pids), "a live worker was hit"
    assert d.pid in (p.pid for p in core.scan().processes if p.state is State.LIVE)
    # The core journalled every signal; only the leaked PIDs are in it.
    assert _signalled(journal_path) == set(leaked)
    stats = guard.stats()
    assert stats.reaped == 2 and stats.outcomes == {"terminated": 1, "killed": 1}
    assert log.has("reaped 2 process(es)")
    # The next tick finds nothing to do.
    again = guard.tick()
    assert again.ok and again.reap is None


def test_guard_leaves_leaks_younger_than_min_age(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9412)
    orphan = sim.orphan_worker(d)
    wait_for(core.scan, _orphans_seen([orphan]))
    guard = Guard(core, GuardConfig(min_age_s=3600.0), log=lambda _: None)
    report = guard.tick()
    assert report.ok and report.reap is None and report.held_back == ()
    assert is_running(orphan)


def test_readonly_guard_only_warns(sim: Simulation, journal_path: pathlib.Path) -> None:
    core = scoped_core(sim, journal_path, readonly=True)
    try:
        d = sim.start_dashboard(port=9413)
        orphan = sim.orphan_worker(d)
        wait_for(core.scan, _orphans_seen([orphan]))
        log = Lines()
        guard = Guard(core, GuardConfig(min_age_s=0.0), log=log.append)
        report = guard.tick()
        assert report.reap is None
        assert [p.pid for p in report.held_back] == [orphan]
        assert is_running(orphan)
        assert log.has(f"would reap 1 process(es) (read-only): pids {orphan}")
        assert not guard.stats().signalling
        assert not journal_path.exists()
        guard.tick()  # said once, not every tick
        assert sum("would reap" in line for line in log) == 1
    finally:
        core.close()


def test_unwritable_journal_stops_signalling_and_says_so(
    sim: Simulation, tmp_path: pathlib.Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the journal's folder should be\n")
    journal = Journal(blocked / "signals.jsonl")

    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    core = Core(scope=in_scope, journal=journal)

    def probe() -> None:
        j = journal.for_action()
        j.open()
        j.close()

    try:
        d = sim.start_dashboard(port=9414)
        orphan = sim.orphan_worker(d)
        wait_for(core.scan, _orphans_seen([orphan]))
        log = Lines()
        guard = Guard(
            core, GuardConfig(min_age_s=0.0, grace_s=1.0), log=log.append, journal_probe=probe
        )
        first = guard.tick()
        assert first.reap is None and is_running(orphan), "signalled without a journal"
        assert log.has("cannot write the signal journal") and log.has("signals nothing")
        assert not guard.stats().journal_writable and not guard.stats().signalling
        second = guard.tick()  # still held back, and it goes on ticking
        assert [p.pid for p in second.held_back] == [orphan] and is_running(orphan)
        # The journal's folder is fixed: the next tick says so and reaps.
        blocked.unlink()
        blocked.mkdir(mode=0o700)
        third = guard.tick()
        assert log.has("can be written again")
        assert third.reap is not None
        assert {r.pid: r.outcome for r in third.reap.results} == {orphan: Outcome.TERMINATED}
        assert _signalled(blocked / "signals.jsonl") == {orphan}
        assert guard.stats().ticks == 3
    finally:
        core.close()


def test_guard_warns_at_80_percent_and_when_it_clears(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9415, fd_soft_limit=256)
    sim.fill_fds_to(d, 0.85)
    log = Lines()
    notes: list[tuple[str, str]] = []
    guard = Guard(
        core,
        GuardConfig(min_age_s=0.0),
        log=log.append,
        notify=lambda title, message: notes.append((title, message)),
    )
    report = guard.tick()
    kinds = [(a.kind, a.dashboard_pid) for a in report.raised]
    assert kinds == [(AlertKind.FD_HIGH, d.pid)]
    assert len(notes) == 1 and f"dashboard {d.pid} uses" in notes[0][1]
    assert log.has(f"warning: dashboard {d.pid} uses")
    assert guard.tick().raised == ()  # not repeated every tick
    assert len(notes) == 1
    sim.release_fds(d)
    guard.tick()
    assert log.has(f"dashboard {d.pid}: fd_high cleared")
    assert guard.stats().warnings == {"fd_high": 1}


def test_guard_warns_from_the_leak_rate_before_the_limit(
    sim: Simulation, journal_path: pathlib.Path
) -> None:
    """A dashboard gaining FDs fast is warned about while it is still below 80 %."""
    now = [1_000_000.0]
    core = scoped_core(sim, journal_path, clock=lambda: now[0])
    try:
        d = sim.start_dashboard(port=9416, fd_soft_limit=256)
        log = Lines()
        guard = Guard(core, GuardConfig(min_age_s=0.0), trends=trend_source(), log=log.append)
        seen: list[int] = []
        raised: list[AlertKind] = []
        for _ in range(4):
            sim.fill_fds(d, 12)  # +12 FD per simulated minute
            report = guard.tick()
            assert report.ok, report.error
            assert report.snapshot is not None
            dash = report.snapshot.dashboard(d.pid)
            assert dash is not None and dash.num_fds is not None
            seen.append(dash.num_fds)
            raised += [a.kind for a in report.raised]
            now[0] += 60.0
        assert raised == [AlertKind.FD_TREND], (raised, seen)
        assert max(seen) < 0.8 * 256, "the trend warning must come before the 80% one"
        assert log.has(f"dashboard {d.pid} gains +12.0 FD/min")
        trend = report.trends[d.pid]
        assert trend.rate_per_min is not None and abs(trend.rate_per_min - 12.0) < 0.5
    finally:
        core.close()


@pytest.mark.parametrize("fail", ["scan", "reap"])
def test_one_bad_tick_never_ends_the_guard(sim: Simulation, core: Core, fail: str) -> None:
    from hermes_top.core.errors import ScanError

    d = sim.start_dashboard(port=9417)
    orphan = sim.orphan_worker(d)
    wait_for(core.scan, _orphans_seen([orphan]))
    calls = {"n": 0}
    real_scan, real_reap = core.scan, core.reap

    def flaky_scan(*, fresh: bool = False) -> Snapshot:
        calls["n"] += 1
        if fail == "scan" and calls["n"] == 1:
            raise ScanError("cannot read the process table: EMFILE")
        if fail == "scan" and calls["n"] == 2:
            raise RuntimeError("a bug")
        return real_scan(fresh=fresh)

    def flaky_reap(targets: object, **kw: object) -> object:
        if calls["n"] == 1:
            raise ValueError("a bug in the reap")
        return real_reap(targets, **kw)  # type: ignore[arg-type]

    core.scan = flaky_scan  # type: ignore[method-assign]
    if fail == "reap":
        core.reap = flaky_reap  # type: ignore[method-assign,assignment]
    log = Lines()
    guard = Guard(core, GuardConfig(min_age_s=0.0, grace_s=1.0), log=log.append)
    bad = [guard.tick() for _ in range(2 if fail == "scan" else 1)]
    assert all(not r.ok for r in bad)
    assert log.has("tick failed") or log.has("tick error")
    assert is_running(orphan)
    good = guard.tick()
    assert good.ok and good.reap is not None
    assert not is_running(orphan)
    stats = guard.stats()
    assert stats.tick_errors == len(bad) and stats.ticks == len(bad) + 1
