"""Drive the TUI's view keys over a FakeCore: what the first screen shows, sorting,
the filter, folds, tags, details, footers, fitting small terminals, pause."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Footer
from tui_helpers import (
    drive,
    make_app,
    notes,
    row_keys,
    screen_text,
    select_pid,
    settle,
    with_cpu,
)

from hermes_top.core.model import Identity, State
from hermes_top.testing import FakeCore, demo_breakdowns, demo_snapshot
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.screens.help import HelpScreen
from hermes_top.tui.widgets import process_table
from hermes_top.tui.widgets.columns import cell
from hermes_top.tui.widgets.filter_bar import FilterBar, FilterRow
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.tree import LIVE_GROUP_KEY, Row, group_key


def test_the_first_screen_at_80x24_shows_orphans_and_every_gauge() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        screen = screen_text(app)
        assert "3001" in screen and "✗ orphan" in screen
        assert screen.count("▣") == 2 and "218/256" in screen and "61/1024" in screen
        # The table's first rows are what needs action.
        assert row_keys(app)[:2] == [group_key(State.ORPHAN), "3001"]

    drive(app, scenario)


def test_u_untags_everything() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, group_key(State.ORPHAN))
        await pilot.press("c")
        assert set(app.tagged) == {3001, 3002, 3003, 3004, 3010}
        await pilot.press("u")
        assert app.tagged == {}

    drive(app, scenario)


def test_sort_keys_and_header_clicks() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("t")  # flat: the order is the sort alone
        await pilot.press("M")
        assert (app.sort.column, app.sort.descending) == ("rss", True)
        assert row_keys(app)[0] == "4100"
        await pilot.press("I")
        assert app.sort.descending is False and row_keys(app)[0] == "3004"
        await pilot.press("greater_than_sign")
        assert app.sort.column == "fds" and not app.sort.inverted
        await pilot.press("less_than_sign", "less_than_sign")
        assert app.sort.column == "age"  # no CPU column: < skips it
        await pilot.press("P")
        assert app.sort.column == "age" and "no CPU times" in notes(app)
        await pilot.click(ProcessTable, offset=(2, 0))  # the PID header
        assert app.sort.column == "pid" and row_keys(app)[0] == "3001"
        await pilot.click(ProcessTable, offset=(2, 0))  # again: inverted
        assert app.sort.inverted and row_keys(app)[0] == "5221"
        assert "sort pid ▼" in screen_text(app)

    drive(app, scenario)


def test_a_click_moves_the_cursor_and_a_second_click_opens_the_row() -> None:
    """As in a DataTable: the first click highlights a row, a click on the
    highlighted row selects it (details for a process)."""
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        assert table.cursor_row == 0
        await pilot.click(ProcessTable, offset=(10, 3))  # the third row below the header
        await pilot.pause()
        assert table.cursor_row == 2 and not app.details_shown
        await pilot.click(ProcessTable, offset=(10, 3))
        await pilot.pause()
        assert table.cursor_row == 2 and app.details_shown
        assert app.selected_process() is not None
        assert app.selected_process().pid == int(table.row_keys[2])  # type: ignore[union-attr]

    drive(app, scenario)


def test_cpu_column_appears_with_cpu_times_and_P_sorts_by_it() -> None:
    first = with_cpu(demo_snapshot(), {4100: 100.0, 4122: 50.0})
    second = with_cpu(demo_snapshot(), {4100: 100.2, 4122: 51.0}, later=2.0)
    app = make_app(FakeCore([first, second]))

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        assert "cpu" in table.column_keys
        app.request_scan()
        await settle(pilot)
        await pilot.press("t", "P")
        assert row_keys(app)[:2] == ["4122", "4100"]  # 50 % then 10 %
        assert table.get_cell("4122", "cpu").plain == "50.0"

    drive(app, scenario)
    plain = make_app()

    async def without(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert "cpu" not in app.query_one(ProcessTable).column_keys

    drive(plain, without)


def test_cursor_stays_on_its_pid_after_a_resorting_refresh() -> None:
    first = demo_snapshot()
    # Next scan: 4122's FD count jumps to the top and a new orphan appears above it.
    procs = [replace(p, num_fds=500) if p.pid == 4122 else p for p in first.processes]
    procs.append(replace(first.get(3002), identity=Identity(2999, 5.0, 501, ("x",))))  # type: ignore[arg-type]
    second = replace(first, processes=tuple(sorted(procs, key=lambda p: p.pid)))
    core = FakeCore([first, second])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("t", "s", "s", "s", "s")  # flat; pid -> state, age, rss, fds
        assert app.sort.column == "fds" and not app.tree_mode
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


def test_home_end_and_folding_groups() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        await pilot.press("end")
        assert table.cursor_key == row_keys(app)[-1]
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("enter")  # a group row: Enter folds it
        assert "3001" not in row_keys(app)
        await pilot.press("right")
        assert "3001" in row_keys(app)
        select_pid(app, LIVE_GROUP_KEY)
        await pilot.press("left")
        assert "4100" not in row_keys(app) and LIVE_GROUP_KEY in row_keys(app)

    drive(app, scenario)


def test_refresh_updates_rows_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    first = demo_snapshot()
    changed = [replace(p, num_fds=9) if p.pid == 4131 else p for p in first.processes]
    second = replace(first, processes=tuple(p for p in changed if p.pid != 5221))
    rebuilt: list[tuple[str, str]] = []
    shown: list[list[str]] = []
    later: list[str] = []

    def counted(column: str, width: int, row: Row, *a: Any) -> Text:
        rebuilt.append((row.key, column))
        return cell(column, width, row, *a)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        monkeypatch.setattr(process_table, "cell", counted)
        app.request_scan()
        await settle(pilot)
        shown.append(table.row_keys)
        monkeypatch.undo()
        select_pid(app, 4131)  # out of view at 80x24 until now
        await pilot.pause()
        later.append(table.get_cell("4131", "fds").plain)

    # Every row in view: 5221 gone; 4131's FDs, 5220's tree guide (now the last
    # child) and the live group's count (its label and its state cell) drawn
    # again, nothing else.
    drive(make_app(FakeCore([first, second])), scenario, size=(80, 60))
    assert "5221" not in shown[0]
    live = [(LIVE_GROUP_KEY, "state"), (LIVE_GROUP_KEY, "command")]
    assert sorted(rebuilt) == sorted([("4131", "fds"), ("5220", "command"), *live])
    # At 80x24 only the live group is in view: 4131 and 5220 build nothing
    # until they come into view, then show the new values.
    rebuilt.clear()
    drive(make_app(FakeCore([first, second])), scenario)
    assert sorted(rebuilt) == sorted(live)
    assert later == ["9", "9"]


def test_filter_is_visible_while_typing_and_after_enter_and_escape_clears_it() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        full = row_keys(app)
        await pilot.press("slash", "b", "o", "b")
        assert row_keys(app) == [group_key(State.ORPHAN), "3010"]
        assert "filter / bob" in screen_text(app)  # the typed text is on screen
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.filter_text == "bob" and app.query_one(FilterRow).has_class("-shown")
        screen = screen_text(app)
        assert "filter / bob" in screen and "filter “bob”" in screen
        await pilot.press("t")  # flat list: no group rows
        assert row_keys(app) == ["3010"]
        await pilot.press("escape")  # in the table
        assert app.filter_text == "" and not app.query_one(FilterRow).has_class("-shown")
        assert app.query_one(FilterBar).value == ""
        assert len(row_keys(app)) == len(demo_snapshot().processes)
        await pilot.press("t")
        assert row_keys(app) == full

    drive(app, scenario)


def test_details_show_evidence_confidence_and_the_dashboard() -> None:
    snap = demo_snapshot()
    secret = ("node", "entry.js", "--gateway", "ws://h/api/ws?token=abc123")
    leaky = replace(snap.get(5210), identity=replace(snap.get(5210).identity, cmdline=secret))  # type: ignore[arg-type,union-attr]
    snap = replace(snap, processes=tuple(leaky if p.pid == 5210 else p for p in snap.processes))
    app = make_app(FakeCore([snap], breakdowns=demo_breakdowns()))

    def body() -> str:
        return str(app.query_one("#details-body").render())

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 5210)
        await pilot.press("enter")
        await settle(pilot)
        screen = screen_text(app)
        assert "token=&lt;redacted&gt;" in screen or "token=<redacted>" in screen
        assert "abc123" not in screen
        select_pid(app, 3001)
        await settle(pilot)
        assert "3 pipe" in body() and "state.db" in body() and "RSS 59 MB" in body()
        select_pid(app, 4170)
        await settle(pilot)
        assert "low ? R will not reap it" in body() and "a turn may still be running" in body()
        select_pid(app, 4100)
        await settle(pilot)
        for text in ("hermes-agent 0.13.0", "123 dead pipes", "remedy: reap+restart", "160"):
            assert text in body(), text
        select_pid(app, group_key(State.ABANDONED))
        await settle(pilot)
        assert "1 abandoned worker(s) under a live dashboard (pids 4160)" in body()

    drive(app, scenario, size=(120, 36))


def test_dialog_footers_show_their_own_keys() -> None:
    app = make_app()

    def shown() -> dict[str, str]:
        """Key -> action of what the current screen's footer shows."""
        assert app.screen.query(Footer)  # every screen has its own footer
        bindings = app.screen.active_bindings.items()
        return {k: b.binding.action for k, b in bindings if b.binding.show and b.enabled}

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert shown()["q"] == "quit" and "escape" not in shown()
        await pilot.press("R")
        keys = shown()
        assert (keys["y"], keys["n"], keys["s"]) == ("confirm", "cancel", "toggle_stale")
        assert "quit" not in keys.values() and "sigterm" not in keys.values()
        await pilot.press("escape")
        select_pid(app, 3001)
        await pilot.press("T")
        assert "s" not in shown()  # "include stale" is for a reap only
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert set(shown().values()) == {"close"}
        await pilot.press("escape", "slash", "x", "enter")
        assert shown()["escape"] == "clear_filter"  # a filter is on: Esc clears it

    drive(app, scenario)


def test_dialogs_and_help_fit_60x15_with_their_buttons_visible() -> None:
    app = make_app()

    async def visible(pilot: Pilot[None], *ids: str) -> None:
        await settle(pilot)
        height = app.size.height
        for id_ in ids:
            region = app.screen.query_one(f"#{id_}").region
            assert region.height > 0 and region.bottom <= height - 1, (id_, region)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("R", "s")
        await visible(pilot, "cancel", "confirm")
        await pilot.press("escape")
        select_pid(app, 4100)
        await pilot.press("L")
        await visible(pilot, "cancel", "confirm")
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        scroll = app.screen.query_one("#help-scroll")
        assert scroll.max_scroll_y > 0  # help is longer than the screen ...
        await pilot.press("pagedown")
        await settle(pilot)
        assert scroll.scroll_y > 0  # ... and scrolls
        await pilot.press("escape", "enter")  # the details pane
        await settle(pilot)
        assert app.query_one(ProcessTable).size.height >= 3  # still rows for the table

    drive(app, scenario, size=(60, 15))


def test_pause_stops_scanning_and_shows_its_own_glyph() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)
    app.interval_s = 0.05

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("p")
        await settle(pilot)
        scans = core.scans
        await pilot.pause(0.3)
        assert core.scans == scans
        assert "‖ PAUSED" in screen_text(app)
        await pilot.press("p")
        await pilot.pause(0.3)
        assert core.scans > scans

    drive(app, scenario)
