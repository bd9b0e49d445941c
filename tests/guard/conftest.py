"""Guard tests: journals and state in tmp_path, HOME isolated, cores scoped to the
test's own simulation (``tests.core.helpers.scoped_core``)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from hermes_top.core.engine import Core
from hermes_top.sim import Simulation
from tests.core.helpers import scoped_core


@pytest.fixture(autouse=True)
def _isolated(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Never the real user's journal, LaunchAgents or systemd user units."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("HERMES_TOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("HERMES_TOP_CONFIG", raising=False)
    monkeypatch.delenv("HERMES_TOP_SCOPE_ROOT", raising=False)
    return home


@pytest.fixture
def journal_path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "journal" / "signals.jsonl"


@pytest.fixture
def core(sim: Simulation, journal_path: pathlib.Path) -> Iterator[Core]:
    c = scoped_core(sim, journal_path)
    yield c
    c.close()
