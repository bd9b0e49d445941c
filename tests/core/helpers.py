"""Helpers shared by the core tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import ProcessInfo, Snapshot
from hermes_top.sim import Simulation


def scoped_core(sim: Simulation, journal_path: Path, **kwargs: object) -> Core:
    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    return Core(scope=in_scope, journal=Journal(journal_path), **kwargs)  # type: ignore[arg-type]


def wait_for(
    scan: Callable[[], Snapshot], ready: Callable[[Snapshot], bool], timeout: float = 10.0
) -> Snapshot:
    """Scan until ``ready`` holds (process trees settle asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        snap = scan()
        if ready(snap) or time.monotonic() > deadline:
            return snap
        time.sleep(0.05)


def sim_env(sim: Simulation) -> dict[str, str]:
    """The environment the simulation gives its processes (PYTHONPATH on its tree)."""
    return sim._env()
