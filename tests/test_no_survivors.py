"""Nothing the tests started may survive the suite (conftest runs the last check last)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.harness import PidRegistry, proc_facts, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_registry_detects_and_kills_a_survivor() -> None:
    registry = PidRegistry()  # a private one: this survivor is on purpose
    pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)"], {})
    registry.register(pid, "sleeper")
    assert registry.survivors() == {pid: "sleeper"}
    registry.kill_survivors()
    wait_until(lambda: proc_facts(pid) is None, "the sleeper to be killed and reaped")
    assert registry.survivors() == {}


def test_nothing_the_suite_started_survives(pid_registry: PidRegistry) -> None:
    survivors = pid_registry.survivors()
    details = {pid: (what, proc_facts(pid)) for pid, what in survivors.items()}
    if survivors:
        pid_registry.kill_survivors()
    assert not survivors, f"processes started by tests are still running: {details}"
