"""`hermes-top demo`: the scenario it builds, and that quitting cleans up."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hermes_top.commands.demo import listing_core
from hermes_top.commands.procs import render_text
from hermes_top.core.model import Role
from hermes_top.core.procfs import start_ticks
from hermes_top.sim import Simulation
from hermes_top.sim.demo_load import build_demo
from tests.harness import REGISTRY, fd_count, nofile_limits, wait_until

ROOT = Path(__file__).resolve().parents[2]
#: A process row of `render_text` (what `list` and `demo --no-ui` print): PID, then role.
ROW = re.compile(rf"^\s+(\d+) (?:{'|'.join(r.value for r in Role)})\s", re.M)


def test_demo_scenario_has_every_leak_and_a_dashboard_near_its_limit(sim: Simulation) -> None:
    scenario = build_demo(sim)
    states = set(sim.expected_states().values())
    assert states >= {"live", "stale", "orphan", "zombie"}
    near = scenario.near_limit
    assert nofile_limits(near.pid)[0] == "256"
    assert fd_count(near.pid) / 256 >= 0.8
    assert nofile_limits(scenario.roomy.pid)[0] == "1024"
    core = listing_core(sim)  # what `demo --no-ui` prints
    try:
        shown = {int(pid) for pid in ROW.findall(render_text(core.scan()))}
    finally:
        core.close()
    assert sim.pids() <= shown, f"missing from the listing: {sim.pids() - shown}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_no_ui_cleans_up_on_quit(sig: signal.Signals) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "hermes_top", "demo", "--no-ui", "--leak-interval", "0.3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`make test &`) has SIGINT ignored,
        # and a child keeps that: the demo would never see its Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    REGISTRY.register(demo.pid, "demo")
    assert demo.stdout is not None
    try:
        header = demo.stdout.readline()
        match = re.search(r"\((/\S+)\)", header)
        assert match, header
        root = Path(match.group(1))
        ids: dict[int, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if line.startswith("hermes-top demo ("):
                break  # one whole tree read
            row = ROW.match(line)
            if row:  # only process rows: summary and reason lines start with numbers too
                pid = int(row.group(1))
                start = start_ticks(pid)
                if start is not None:
                    ids[pid] = start
                    REGISTRY.register_identity(pid, start, "demo process")
        assert len(ids) >= 15
    finally:
        demo.send_signal(sig)
        _, err = demo.communicate(timeout=60)
    assert demo.returncode == 0, err
    assert "cleaning up" in err

    def all_gone() -> bool:
        REGISTRY.survivors()
        return not [p for p, s in ids.items() if start_ticks(p) == s]

    wait_until(all_gone, "the demo's processes to be gone", timeout=5)
    assert not root.exists()


def test_demo_rejects_bad_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hermes_top", "demo", "--leak-interval", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "hermes-top: error: --leak-interval must be greater than 0"
    ]
