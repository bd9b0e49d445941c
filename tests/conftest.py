"""Suite-wide safety: orphans come back to pytest, every PID is registered, and
nothing the tests started may survive the run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from hermes_top.sim import Simulation
from hermes_top.sim.tracking import become_subreaper, reap_pids
from tests.harness import REGISTRY, PidRegistry, children_of, kill_exact, proc_facts

# Deterministic TUI frames: colour on unless a test sets NO_COLOR on purpose,
# no devtools/driver overrides from the developer's shell, no animations.
for _var in ("NO_COLOR", "FORCE_COLOR", "TEXTUAL", "TEXTUAL_DRIVER", "TEXTUAL_DEBUG"):
    os.environ.pop(_var, None)
os.environ["TEXTUAL_ANIMATIONS"] = "none"

IS_LINUX = sys.platform.startswith("linux")
#: The last test of the run (moved there by pytest_collection_modifyitems).
FINAL_CHECK = "test_nothing_the_suite_started_survives"


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    """Orphans of the processes tests start are reparented to pytest, not PID 1,
    so they can be checked (ppid == os.getpid()) and reaped."""
    if IS_LINUX:
        assert become_subreaper(), "prctl(PR_SET_CHILD_SUBREAPER) failed"


@pytest.fixture
def pid_registry() -> PidRegistry:
    """Register every process a test starts: ``pid_registry.register(pid)``."""
    return REGISTRY


@pytest.fixture
def sim() -> Iterator[Simulation]:
    """A fresh simulation, closed (everything killed and reaped) after the test."""
    if not IS_LINUX:
        pytest.skip("the simulator's process checks need Linux /proc")
    simulation = Simulation()
    try:
        yield simulation
    finally:
        REGISTRY.register_sim(simulation)
        simulation.close(raise_on_survivors=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    final = [item for item in items if item.name == FINAL_CHECK]
    for item in final:
        items.remove(item)
    items.extend(final)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Backstop after every fixture is torn down: registered PIDs, and any
    process still parented by pytest (adopted orphans), must all be gone."""
    if not IS_LINUX:
        return
    survivors = REGISTRY.survivors()
    strays = {pid: "child of pytest" for pid in children_of(os.getpid()) if pid not in survivors}
    if not survivors and not strays:
        return
    found = {**survivors, **strays}
    lines = [f"  {pid} {what}: {proc_facts(pid)}" for pid, what in found.items()]
    print("\n!! processes started by the tests survived the suite:", *lines, sep="\n")
    REGISTRY.kill_survivors()
    for pid in strays:
        facts = proc_facts(pid)
        if facts is not None and facts.ppid == os.getpid():  # our child: its PID is pinned
            kill_exact(pid, facts.start)
    reap_pids(strays)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
