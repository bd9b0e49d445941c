"""Bulk reap and single signals on real simulated processes."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.errors import ReadOnlyError
from hermes_top.core.journal import read_journal
from hermes_top.core.model import Outcome, ProcessInfo, State
from hermes_top.sim import Simulation
from tests.core.helpers import scoped_core, sim_env, wait_for
from tests.harness import is_running


def _outcomes(results: tuple[object, ...]) -> dict[int, Outcome]:
    return {r.pid: r.outcome for r in results}  # type: ignore[attr-defined]


def test_bulk_reap_of_a_mixed_set(sim: Simulation, core: Core, journal_path: Path) -> None:
    d = sim.start_dashboard(port=9311)
    polite = sim.orphan_worker(d)
    stubborn = sim.orphan_worker(d, ignore_term=True)
    stopped = sim.orphan_stopped_worker(d)
    doomed = sim.orphan_worker(d)
    zombie = sim.zombie_tui(d) if sim.has_node else None
    live_tab = sim.open_tab(d, path="attach")
    snap = wait_for(
        core.scan,
        lambda s: all(
            (p := s.get(x)) is not None and p.state is State.ORPHAN
            for x in (polite, stubborn, stopped, doomed)
        ),
    )
    plan = core.plan_reap(snap)
    assert {p.pid for p in plan.targets} == {polite, stubborn, stopped, doomed}
    targets = list(plan.targets)
    if zombie is not None:
        z = snap.get(zombie)
        assert z is not None and z.state is State.ZOMBIE
        targets.append(z)  # as if asked for by --pid: reported, never signalled
    # One target exits before the reap starts.
    sim.send_signal(doomed, signal.SIGKILL)
    sim.wait_gone([doomed])

    grace = 1.0
    started = time.monotonic()
    report = core.reap(targets, grace_s=grace)
    elapsed = time.monotonic() - started

    outcomes = _outcomes(report.results)
    assert outcomes[polite] is Outcome.TERMINATED
    assert outcomes[stopped] is Outcome.TERMINATED  # SIGCONT let it act on SIGTERM
    assert outcomes[stubborn] is Outcome.KILLED
    assert outcomes[doomed] is Outcome.GONE
    if zombie is not None:
        assert outcomes[zombie] is Outcome.ZOMBIE
    assert elapsed < grace + 1.0, f"reap took {elapsed:.2f} s"
    for pid in (polite, stubborn, stopped):
        assert not is_running(pid)
    assert all(is_running(p) for p in live_tab.worker_pids), "a live worker was hit"

    lines = read_journal(journal_path)
    sent = [(r["pid"], r["signal"]) for r in lines if r["event"] == "signal"]
    assert (polite, "SIGTERM") in sent and (stubborn, "SIGKILL") in sent
    assert (stopped, "SIGCONT") in sent
    assert (polite, "SIGKILL") not in sent
    assert not any(pid == zombie for pid, _ in sent)
    assert not any(pid == doomed for pid, _ in sent)
    outcome_lines = {r["pid"]: r["outcome"] for r in lines if r["event"] == "outcome"}
    assert outcome_lines[stubborn] == "killed" and outcome_lines[polite] == "terminated"
    for r in lines:
        if r["event"] == "signal":
            assert {"time", "pid", "create_time", "argv", "signal", "result"} <= r.keys()


def test_reap_wall_time_does_not_grow_with_count(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9312)
    pids = [sim.orphan_worker(d, ignore_term=True) for _ in range(12)]
    snap = wait_for(core.scan, lambda s: all(s.get(p) is not None for p in pids))
    targets = [p for p in snap.processes if p.pid in pids]
    report = core.reap(targets, grace_s=0.5)
    assert {r.outcome for r in report.results} == {Outcome.KILLED}
    assert report.elapsed_s < 0.5 + 1.0  # serial would be 12 x 0.5 s


def test_send_signal_only_hits_the_given_identities(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9313)
    a = sim.orphan_worker(d)
    b = sim.orphan_worker(d)
    snap = wait_for(core.scan, lambda s: s.get(a) is not None and s.get(b) is not None)
    info_a = snap.get(a)
    assert info_a is not None
    results = core.send_signal([info_a], signal.SIGTERM).results
    assert _outcomes(results) == {a: Outcome.TERMINATED}
    assert not is_running(a) and is_running(b)


def test_readonly_core_refuses_to_signal(sim: Simulation, journal_path: Path) -> None:
    d = sim.start_dashboard(port=9314)
    a = sim.orphan_worker(d)
    ro = scoped_core(sim, journal_path, readonly=True)
    snap = wait_for(ro.scan, lambda s: s.get(a) is not None)
    info = snap.get(a)
    assert info is not None
    with pytest.raises(ReadOnlyError):
        ro.send_signal([info], signal.SIGKILL)
    with pytest.raises(ReadOnlyError):
        ro.reap([info])
    assert is_running(a)
    assert not journal_path.exists()


def test_safety_refusals(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9315)
    a = sim.orphan_worker(d)
    snap = wait_for(core.scan, lambda s: s.get(a) is not None)
    info = snap.get(a)
    assert info is not None
    me = dataclasses.replace(info, identity=dataclasses.replace(info.identity, pid=os.getpid()))
    init = dataclasses.replace(info, identity=dataclasses.replace(info.identity, pid=1))
    parent = dataclasses.replace(
        info, identity=dataclasses.replace(info.identity, pid=os.getppid())
    )
    report = core.reap([me, init, parent], grace_s=0.2)
    details = {r.pid: (r.outcome, r.detail) for r in report.results}
    assert details[os.getpid()][0] is Outcome.SKIPPED and "itself" in details[os.getpid()][1]
    assert details[1][0] is Outcome.SKIPPED
    if os.getppid() > 1:
        assert details[os.getppid()][0] is Outcome.SKIPPED
        assert "ancestor" in details[os.getppid()][1]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make another user's process")
def test_other_users_orphan_needs_all_users(sim: Simulation, journal_path: Path) -> None:
    d = sim.start_dashboard(port=9316)
    theirs = sim.other_user_orphan(d)
    core = scoped_core(sim, journal_path)
    snap = wait_for(core.scan, lambda s: s.get(theirs) is not None)
    info = snap.get(theirs)
    assert info is not None and info.uid != 0 and info.state is State.ORPHAN
    plan = core.plan_reap(snap)
    assert info not in plan.targets
    assert any(p.pid == theirs and "--all-users" in why for p, why in plan.excluded)
    report = core.reap([info], grace_s=0.5)
    assert _outcomes(report.results) == {theirs: Outcome.SKIPPED}
    assert is_running(theirs)
    allowed = scoped_core(sim, journal_path, allow_other_users=True)
    snap = allowed.scan()
    info = snap.get(theirs)
    assert info is not None
    report = allowed.reap([info], grace_s=1.0)
    assert _outcomes(report.results)[theirs] in (Outcome.TERMINATED, Outcome.KILLED)


def _force_next_pid(pid: int) -> bool:
    try:
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
    except OSError:
        return False
    return True


def test_pid_reuse_between_scan_and_signal_is_not_signalled(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9317)
    victim = sim.orphan_worker(d)
    snap = wait_for(core.scan, lambda s: s.get(victim) is not None)
    old = snap.get(victim)
    assert old is not None
    sim.send_signal(victim, signal.SIGKILL)
    sim.wait_gone([victim])
    # A new process with the very same argv takes the PID.
    reuser: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(200):
            if not _force_next_pid(victim):
                pytest.skip("cannot write /proc/sys/kernel/ns_last_pid here")
            proc = subprocess.Popen(
                list(old.identity.cmdline),
                env=sim_env(sim),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if proc.pid == victim:
                reuser = proc
                break
            proc.kill()
            proc.wait()
        if reuser is None:
            pytest.skip("another process kept taking the PID")
        time.sleep(0.05)
        report = core.reap([old], grace_s=0.5)
        assert _outcomes(report.results) == {victim: Outcome.CHANGED}
        assert reuser.poll() is None, "the PID reuser was signalled"

        # Same clock tick, same argv (the case create time cannot tell apart):
        # forge the old identity's create time; its pin still differs.
        snap2 = core.scan()
        new = snap2.get(victim)
        assert new is not None and new.identity.pin != old.identity.pin
        forged = dataclasses.replace(
            old, identity=dataclasses.replace(old.identity, create_time=new.create_time)
        )
        report = core.send_signal([forged], signal.SIGKILL)
        assert _outcomes(report.results) == {victim: Outcome.CHANGED}
        assert reuser.poll() is None, "the PID reuser was signalled"
    finally:
        if reuser is not None:
            reuser.kill()
            reuser.wait()


def test_changed_argv_is_not_signalled(sim: Simulation, core: Core) -> None:
    d = sim.start_dashboard(port=9318)
    a = sim.orphan_worker(d)
    snap = wait_for(core.scan, lambda s: s.get(a) is not None)
    info = snap.get(a)
    assert info is not None
    tampered: ProcessInfo = dataclasses.replace(
        info, identity=dataclasses.replace(info.identity, cmdline=("python3", "other"), pin=0)
    )
    results = core.send_signal([tampered], signal.SIGTERM).results
    assert _outcomes(results) == {a: Outcome.CHANGED}
    assert is_running(a)
