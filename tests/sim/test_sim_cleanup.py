"""A simulation kills and reaps everything it started, however it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hermes_top.core.procfs import start_ticks
from hermes_top.sim import SimError, Simulation
from tests.harness import REGISTRY, must_facts, proc_facts, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _every_leak(sim: Simulation) -> None:
    d = sim.start_dashboard()
    sim.open_tab(d, "attach")
    if sim.has_node:
        sim.close_tab_leaking(sim.open_tab(d, "spawn"))
    sim.restart_worker(sim.open_tab(d, "attach"), close_old=False)
    sim.spawn_stubborn_worker(d)
    sim.zombie_tui(d)
    sim.orphan_stopped_worker(d)


def _still_present(identities: dict[int, float]) -> list[int]:
    return [pid for pid, start in identities.items() if start_ticks(pid) == start]


def test_nothing_survives_the_with_block() -> None:
    with Simulation() as sim:
        _every_leak(sim)
        identities = sim.identities()
        REGISTRY.register_sim(sim)
        root = sim.root
        assert len(identities) >= 8
        assert set(sim.roles().values()) >= {"dashboard", "slash_worker", "tui"}
    assert _still_present(identities) == []
    assert not root.exists()


def test_nothing_survives_a_failure_inside_the_with_block() -> None:
    with pytest.raises(RuntimeError, match="boom"), Simulation() as sim:
        _every_leak(sim)
        identities = sim.identities()
        REGISTRY.register_sim(sim)
        raise RuntimeError("boom")
    assert _still_present(identities) == []
    assert not sim.root.exists()


OWNER_SCRIPT = """
import json, sys, time
from hermes_top.sim import Simulation
sim = Simulation()
d = sim.start_dashboard()
if sim.has_node:
    sim.close_tab_leaking(sim.open_tab(d, "spawn"))
    sim.open_tab(d, "spawn")  # a live node tui too
sim.spawn_stubborn_worker(d)
sim.zombie_tui(d)
if sys.argv[1] == "exit":
    sim.orphan_stopped_worker(d)
ids = {str(p): int(s) for p, s in sim.identities().items()}
print(json.dumps({"root": str(sim.root), "ids": ids}), flush=True)
if sys.argv[1] == "hang":
    time.sleep(120)
"""


def _run_owner(mode: str) -> tuple[subprocess.Popen[str], dict[int, int], Path]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, mode], stdout=subprocess.PIPE, text=True
    )
    REGISTRY.register(owner.pid, "sim owner")
    assert owner.stdout is not None
    report = json.loads(owner.stdout.readline())
    ids = {int(p): s for p, s in report["ids"].items()}
    for pid, start in ids.items():
        REGISTRY.register_identity(pid, start, f"{mode} owner's sim process")
    return owner, ids, Path(report["root"])


def test_owner_that_exits_without_closing_cleans_up_at_exit() -> None:
    owner, ids, root = _run_owner("exit")
    assert owner.wait(timeout=60) == 0
    assert [p for p, s in ids.items() if start_ticks(p) == s] == []
    assert not root.exists()


def test_killed_owner_leaves_nothing_running_for_long() -> None:
    # SIGKILL skips every cleanup; the processes' owner watch is the safety net.
    owner, ids, root = _run_owner("hang")
    owner.kill()
    owner.wait()

    def all_gone() -> bool:
        REGISTRY.survivors()  # reaps those reparented to us
        return not [p for p, s in ids.items() if start_ticks(p) == s]

    wait_until(all_gone, "the killed owner's processes to exit", timeout=20)
    subprocess.run(["rm", "-rf", str(root)], check=True)


def test_exited_orphans_are_reaped_not_left_as_zombies(sim: Simulation) -> None:
    d = sim.start_dashboard()
    worker = sim.orphan_worker(d)
    assert must_facts(worker).ppid == os.getpid()
    assert sim.send_signal(worker, signal.SIGKILL)
    # The sim's reaper waits for it, as an init would: no zombie under pytest.
    wait_until(lambda: proc_facts(worker) is None, "the orphan to be reaped")
    assert not sim.is_present(worker)


def test_without_auto_reap_orphans_stay_zombies_until_reaped() -> None:
    with Simulation(auto_reap=False) as sim:
        REGISTRY.register_sim(sim)
        d = sim.start_dashboard()
        worker = sim.orphan_worker(d)
        REGISTRY.register_sim(sim)
        assert sim.send_signal(worker, signal.SIGKILL)
        wait_until(lambda: must_facts(worker).state == "Z", "the orphan to become a zombie")
        assert (must_facts(worker).ppid, sim.is_present(worker)) == (os.getpid(), True)
        # Its threads may still be exiting (a Z leader cannot be waited for until
        # they are gone), so reap until it is.
        reaped: set[int] = set()

        def reaped_it() -> bool:
            reaped.update(sim.reap())
            return worker in reaped

        wait_until(reaped_it, "sim.reap() to reap the zombie orphan")
        assert proc_facts(worker) is None


def test_in_scope_and_signalling_only_its_own_processes(sim: Simulation) -> None:
    d = sim.start_dashboard()
    zombie = sim.zombie_tui(d)
    argv = must_facts(d.pid).cmdline
    assert sim.in_scope(argv, d.pid)
    assert sim.in_scope(argv, 0)  # argv names the root
    assert sim.in_scope((), zombie)  # zombies have no argv
    lookalike = ("python3", "-m", "tui_gateway.slash_worker", "--session-key", "x")
    assert not sim.in_scope(lookalike, os.getpid())
    assert not sim.in_scope((f"{sim.root}x/venv/bin/python3",), os.getpid())
    with pytest.raises(SimError):
        sim.send_signal(os.getpid(), 0)  # not one of its processes: refused
    sim.close()
    sim.close()  # twice is fine
    with pytest.raises(SimError):
        sim.start_dashboard()
    assert not sim.in_scope((), zombie)
