"""The first scan, started before the UI (tui/first_scan.py): in a forked child
on Linux, with every pin cleared, falling back to this process on any failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import ProcessInfo, Snapshot
from hermes_top.sim import Simulation
from hermes_top.testing import FakeCore
from hermes_top.testing.demo_data import demo_snapshot
from hermes_top.tui import first_scan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux")


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the PID of every child forked from here on."""
    children: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return children


def test_the_forked_scan_is_the_scan_without_pins(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = sim.start_dashboard(port=9391)
    sim.open_tab(d, "attach")

    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    core = Core(scope=in_scope, journal=Journal(tmp_path / "j.jsonl"))
    children = _forks(monkeypatch)
    try:
        early = first_scan.scan_in_background(core, fork=True).result(timeout=30)
        here = core.scan()
    finally:
        core.close()
    assert len(children) == 1
    assert {p.pid: p.state for p in early.processes} == {p.pid: p.state for p in here.processes}
    assert {p.pid for p in early.processes} >= {d.pid}
    # The child's pidfds died with it: none of their numbers may come back here.
    assert all(p.identity.pin == 0 for p in early.processes)
    assert any(p.identity.pin for p in here.processes)  # this core does pin
    # And the child was waited for: no zombie left behind.
    assert not os.path.exists(f"/proc/{children[0]}") or _state(children[0]) != "Z"


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class _FailsInChild:
    """A core whose scan fails in any process but the one that made it."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.inner = FakeCore([snapshot])
        self.parent = os.getpid()
        self.scans = 0

    def scan(self) -> Snapshot:
        if os.getpid() != self.parent:
            raise RuntimeError("the child's scan failed")
        self.scans += 1
        return self.inner.scan()


def test_a_failed_child_falls_back_to_a_scan_here(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = demo_snapshot()
    core = _FailsInChild(snap)
    children = _forks(monkeypatch)
    got = first_scan.scan_in_background(core, fork=True).result(timeout=30)  # type: ignore[arg-type]
    assert len(children) == 1
    assert core.scans == 1  # the child failed: this process scanned
    assert got.processes == snap.processes


def test_no_fork_when_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies only the calling thread: a lock another thread holds would
    stay held in the child forever. With threads about, the scan runs in one."""
    monkeypatch.setattr(first_scan.threading, "active_count", lambda: 2)
    children = _forks(monkeypatch)
    core = FakeCore([demo_snapshot()])
    first_scan.scan_in_background(core).result(timeout=30)
    assert children == []
