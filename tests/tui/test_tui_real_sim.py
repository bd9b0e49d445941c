"""End to end: the TUI over the real core, on real simulated processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import select_pid, settle

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal, read_journal
from hermes_top.core.model import ProcessInfo, State
from hermes_top.sim import Simulation
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.screens.confirm import ConfirmDialog
from tests.harness import is_running


def _app(sim: Simulation, journal: Path, readonly: bool = False) -> HermesTopApp:
    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    core = Core(scope=in_scope, journal=Journal(journal), readonly=readonly)
    app = HermesTopApp(core, interval_s=0.5, readonly=readonly, grace_s=1.0)
    app.animation_level = "none"
    app.cursor_blink = False
    return app


async def _until_rows(app: HermesTopApp, pilot: Pilot[None], pids: list[int]) -> None:
    from hermes_top.tui.widgets.process_table import ProcessTable

    table = app.query_one(ProcessTable)
    for _ in range(100):
        await settle(pilot)
        keys = set(table.row_keys)
        if all(str(p) in keys for p in pids):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"rows for {pids} never appeared")


async def _until(pilot: Pilot[None], done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await settle(pilot)
        await asyncio.sleep(0.05)


def test_R_reaps_the_orphans_and_leaves_live_workers(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9401)
    live = sim.open_tab(d, path="attach")
    polite = sim.orphan_worker(d)
    stubborn = sim.orphan_worker(d, ignore_term=True)
    journal = tmp_path / "journal.jsonl"
    app = _app(sim, journal)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _until_rows(app, pilot, [polite, stubborn, *live.worker_pids])
            await pilot.press("R")
            assert isinstance(app.screen, ConfirmDialog)
            await settle(pilot)  # planned in a thread, from a fresh scan
            assert {p.pid for p in app.screen.targets} == {polite, stubborn}
            assert all(p.state is State.ORPHAN for p in app.screen.targets)
            await pilot.press("y")
            await _until(pilot, lambda: not is_running(polite) and not is_running(stubborn))

    asyncio.run(main())
    assert not is_running(polite) and not is_running(stubborn)
    assert all(is_running(p) for p in live.worker_pids)
    outcomes = {r["pid"]: r["outcome"] for r in read_journal(journal) if r["event"] == "outcome"}
    assert outcomes == {polite: "terminated", stubborn: "killed"}


def test_readonly_T_on_a_real_orphan_sends_nothing(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9402)
    orphan = sim.orphan_worker(d)
    journal = tmp_path / "journal.jsonl"
    app = _app(sim, journal, readonly=True)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _until_rows(app, pilot, [orphan])
            select_pid(app, orphan)
            await pilot.press("T")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmDialog)
            assert "read-only" in "\n".join(n.message for n in app._notifications)

    asyncio.run(main())
    assert is_running(orphan)
    assert not journal.exists()


def test_K_on_a_selected_real_orphan(sim: Simulation, tmp_path: Path) -> None:
    d = sim.start_dashboard(port=9403)
    target = sim.orphan_worker(d, ignore_term=True)
    bystander = sim.orphan_worker(d)
    journal = tmp_path / "journal.jsonl"
    app = _app(sim, journal)

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _until_rows(app, pilot, [target, bystander])
            select_pid(app, target)
            await pilot.press("K")
            assert isinstance(app.screen, ConfirmDialog)
            assert [p.pid for p in app.screen.targets] == [target]
            await pilot.press("y")
            await _until(pilot, lambda: not is_running(target))
            said.extend(n.message for n in app._notifications)

    said: list[str] = []
    asyncio.run(main())
    assert not is_running(target), f"target survived; the app said: {said}"
    assert is_running(bystander)
    sent = [(r["pid"], r["signal"]) for r in read_journal(journal) if r["event"] == "signal"]
    assert sent == [(target, "SIGKILL")]
