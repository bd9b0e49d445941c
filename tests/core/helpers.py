"""Helpers shared by the core tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def hermes_top(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a whole process (stdin closed: no terminal), journal in state_dir."""
    env = dict(os.environ, HERMES_TOP_STATE_DIR=str(state_dir))
    return subprocess.run(
        [sys.executable, "-m", "hermes_top", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
