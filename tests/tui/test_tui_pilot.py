"""Drive the TUI with keys over a FakeCore and check exactly what reached the core."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace

from textual.pilot import Pilot
from tui_helpers import make_app, select_pid, settle

from hermes_top.core.model import Identity, Snapshot
from hermes_top.testing import FakeCore, demo_breakdowns, demo_snapshot
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.screens.confirm import ConfirmDialog
from hermes_top.tui.widgets.process_table import ProcessTable

Scenario = Callable[[HermesTopApp, Pilot[None]], Awaitable[None]]


def drive(app: HermesTopApp, scenario: Scenario, size: tuple[int, int] = (80, 24)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(app, pilot)

    asyncio.run(main())


def identities(snapshot: Snapshot, *pids: int) -> tuple[Identity, ...]:
    found = [snapshot.get(pid) for pid in pids]
    assert all(found)
    return tuple(p.identity for p in found if p is not None)


def row_keys(app: HermesTopApp) -> list[str]:
    table = app.query_one(ProcessTable)
    return [str(row.key.value) for row in table.ordered_rows]


def notes(app: HermesTopApp) -> str:
    return "\n".join(n.message for n in app._notifications)


def test_tag_two_rows_then_T_sends_TERM_to_exactly_those() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)
        await pilot.press("space", "space")  # tags 3001, moves down, tags 3002
        assert set(app.tagged) == {3001, 3002}
        await pilot.press("T")
        assert isinstance(app.screen, ConfirmDialog)
        assert [p.pid for p in app.screen.targets] == [3001, 3002]
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)

    drive(app, scenario)
    assert len(core.signal_calls) == 1
    call = core.signal_calls[0]
    assert call.sig == signal.SIGTERM
    assert call.targets == identities(demo_snapshot(), 3001, 3002)
    assert "SIGTERM: 2 terminated" in notes(app)
    assert app.snapshot is not None and app.snapshot.get(3001) is None  # rescanned after


def test_K_on_cursor_row_reports_denied_with_reason() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3010)  # bob's worker: the fake says EPERM
        await pilot.press("K", "y")
        await settle(pilot)

    drive(app, scenario)
    assert [c.sig for c in core.signal_calls] == [signal.SIGKILL]
    assert "3010 slash_worker: denied — operation not permitted" in notes(app)


def test_readonly_sends_nothing_and_says_so() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core, readonly=True)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)
        await pilot.press("space", "T", "y", "K", "y", "R", "y", "L", "y")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)

    drive(app, scenario)
    assert core.signal_calls == [] and core.reap_calls == [] and core.restarts == 0
    assert "read-only" in notes(app)


def test_a_readonly_core_makes_the_app_readonly() -> None:
    app = make_app(FakeCore([demo_snapshot()], readonly=True))
    assert app.readonly


def test_escape_cancels_and_nothing_is_sent() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        select_pid(app, 3001)
        await pilot.press("T", "n")
        await settle(pilot)
        select_pid(app, 3002)
        await pilot.press("T", "enter")  # Enter presses the focused button: Cancel
        await settle(pilot)

    drive(app, scenario)
    assert core.signal_calls == [] and core.reap_calls == []


def test_R_plans_orphans_only_then_stale_after_the_toggle() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("R")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        # bob's orphan and the zombie are left out, the stale twin only on request.
        assert [p.pid for p in dialog.targets] == [3001, 3002, 3003]
        await pilot.press("s")
        assert [p.pid for p in dialog.targets] == [3001, 3002, 3003, 4119]
        await pilot.press("s")
        assert [p.pid for p in dialog.targets] == [3001, 3002, 3003]
        await pilot.press("s", "y")
        await settle(pilot)

    drive(app, scenario)
    assert len(core.reap_calls) == 1
    assert core.reap_calls[0].targets == identities(demo_snapshot(), 3001, 3002, 3003, 4119)
    assert core.reap_calls[0].grace_s == app.grace_s
    assert "reap: 3 terminated, 1 killed" in notes(app)
    assert app.snapshot is not None
    assert {p.pid for p in app.snapshot.processes}.isdisjoint({3001, 3002, 3003, 4119})


def test_actions_use_identities_captured_when_the_dialog_opened() -> None:
    # While the dialog is open the pid is reused by another process: the core must
    # be handed the old identity (and then reports the row as changed).
    first = demo_snapshot()
    reused = replace(first.get(3001), identity=Identity(3001, 1.0, 501, ("sleep", "9")))  # type: ignore[arg-type]
    second = replace(
        first, processes=tuple(reused if p.pid == 3001 else p for p in first.processes)
    )
    core = FakeCore([first, second])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)
        await pilot.press("T")
        app.request_scan()  # the list is frozen: this scan is held back
        await settle(pilot)
        assert app.snapshot is first
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario)
    assert core.signal_calls[0].targets == (first.get(3001).identity,)  # type: ignore[union-attr]
    assert "3001 slash_worker: changed" in notes(app)


def test_cursor_stays_on_its_pid_after_a_resorting_refresh() -> None:
    first = demo_snapshot()
    # Next scan: 4122's FD count jumps to the top and a new orphan appears above it.
    procs = [replace(p, num_fds=500) if p.pid == 4122 else p for p in first.processes]
    procs.append(replace(first.get(3002), identity=Identity(2999, 5.0, 501, ("x",))))  # type: ignore[arg-type]
    second = replace(first, processes=tuple(sorted(procs, key=lambda p: p.pid)))
    core = FakeCore([first, second])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("t", "s", "s", "s")  # flat; pid -> state -> age -> fds
        assert app.sort == "fds" and not app.tree_mode
        select_pid(app, 4122)
        await pilot.pause()
        table = app.query_one(ProcessTable)
        before = table.cursor_row
        app.request_scan()
        await settle(pilot)
        assert "2999" in row_keys(app)
        assert table.cursor_key == "4122"
        assert before > 0 and table.cursor_row == 0  # it moved to the top with its row

    drive(app, scenario)


def test_refresh_updates_rows_in_place() -> None:
    first = demo_snapshot()
    changed = [replace(p, num_fds=9) if p.pid == 4131 else p for p in first.processes]
    second = replace(first, processes=tuple(p for p in changed if p.pid != 5211))
    app = make_app(FakeCore([first, second]))
    calls: dict[str, int] = {"add": 0, "remove": 0, "update": 0}

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        for name, method in (
            ("add", "add_row"),
            ("remove", "remove_row"),
            ("update", "update_cell"),
        ):
            original = getattr(table, method)

            def counted(*a: object, _n: str = name, _f: object = original, **k: object) -> object:
                calls[_n] += 1
                return _f(*a, **k)  # type: ignore[operator]

            setattr(table, method, counted)
        app.request_scan()
        await settle(pilot)

    drive(app, scenario)
    # 5211 gone; 4131's FDs and 5210's tree guide (now the last child) changed.
    assert calls == {"add": 0, "remove": 1, "update": 2}


def test_filter_narrows_rows_and_escape_restores_them() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        full = row_keys(app)
        await pilot.press("slash", "b", "o", "b")
        assert row_keys(app) == ["orphans", "3010"]
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.filter_text == "bob"
        await pilot.press("t")  # flat list: no group rows
        assert row_keys(app) == ["3010"]
        await pilot.press("slash", "escape")
        assert row_keys(app) != full  # flat now, but everything is back
        assert len(row_keys(app)) == len(demo_snapshot().processes)

    drive(app, scenario)


def test_fold_hides_a_dashboards_children() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 4100)
        await pilot.press("left")
        keys = row_keys(app)
        assert "4100" in keys and "4119" not in keys and "4122" not in keys
        await pilot.press("right")
        assert "4122" in row_keys(app)

    drive(app, scenario)


def test_details_show_redacted_argv_and_fd_breakdown() -> None:
    snap = demo_snapshot()
    secret = ("node", "entry.js", "--gateway", "ws://h/api/ws?token=abc123")
    leaky = replace(snap.get(5210), identity=replace(snap.get(5210).identity, cmdline=secret))  # type: ignore[arg-type,union-attr]
    snap = replace(snap, processes=tuple(leaky if p.pid == 5210 else p for p in snap.processes))
    app = make_app(FakeCore([snap], breakdowns=demo_breakdowns()))

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 5210)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.export_screenshot()
        assert "token=&lt;redacted&gt;" in screen or "token=<redacted>" in screen
        assert "abc123" not in screen
        select_pid(app, 3001)
        await settle(pilot)
        body = str(app.query_one("#details-body").render())
        assert "3 pipe" in body and "state.db" in body

    drive(app, scenario, size=(120, 36))


def test_pause_stops_scanning() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)
    app.interval_s = 0.05

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("p")
        await settle(pilot)
        scans = core.scans
        await pilot.pause(0.3)
        assert core.scans == scans
        await pilot.press("p")
        await pilot.pause(0.3)
        assert core.scans > scans

    drive(app, scenario)
