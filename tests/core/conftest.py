"""Core tests: a Core scoped to the test's own simulation, journal in tmp_path."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.sim import Simulation
from tests.core.helpers import scoped_core
from tests.harness import REGISTRY


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never write the real user's journal from a test.
    monkeypatch.setenv("HERMES_TOP_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


@pytest.fixture
def core(sim: Simulation, journal_path: Path) -> Iterator[Core]:
    c = scoped_core(sim, journal_path)
    yield c
    c.close()


@pytest.fixture
def own_children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself; killed and waited for in teardown, even on failure."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def sleepers(own_children: list[subprocess.Popen[bytes]]) -> list[subprocess.Popen[bytes]]:
    """Three ``sleep 300`` of the test's own (registered; killed by own_children)."""
    for _ in range(3):
        proc = subprocess.Popen(["sleep", "300"])
        REGISTRY.register(proc.pid, "sleeper")
        own_children.append(proc)
    return own_children
