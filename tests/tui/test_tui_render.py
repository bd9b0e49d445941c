"""The table is updated in place: after any run of refreshes the screen must show
exactly what a table built from scratch on the final state shows. A changed cell
repaints its row only, so what is on screen is read through the widget's line
cache, where a row that should have been repainted and was not stays stale.
A refresh that changes nothing visible must build no cell and repaint nothing
(ages past a minute are shown in minutes, so they do not tick every second).
That each line is what a DataTable draws: test_table_lines.py."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import pytest
from rich.text import Text
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip
from textual.visual import VisualType
from tui_helpers import drive, make_app, select_pid, settle, with_cpu

from hermes_top.core.model import Snapshot, State
from hermes_top.testing import FakeCore, demo_snapshot
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.widgets import process_table
from hermes_top.tui.widgets.columns import cell, coarse_age
from hermes_top.tui.widgets.header import HeaderStrip
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.tree import Row, group_key

SIZE = (120, 36)


def older(snapshot: Snapshot, seconds: float) -> Snapshot:
    """The same processes, ``seconds`` later: every age moves on."""
    procs = tuple(replace(p, age_s=p.age_s + seconds) for p in snapshot.processes)
    return replace(snapshot, processes=procs, taken_at=snapshot.taken_at + seconds)


def drawn(table: ProcessTable) -> tuple[list[str], list[list[object]], list[Strip]]:
    """(column labels, every cell, every line on screen) of ``table``. The lines go
    through the widget's line cache, as the compositor's do: a line that was not
    marked for a repaint is the one drawn before."""
    labels = [c.markup for c in table.header_labels]
    cells = [[(c.plain, c.spans) for c in table.get_row_at(i)] for i in range(table.row_count)]
    lines = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return labels, cells, lines


def assert_screen_is_current(table: ProcessTable) -> None:
    """What is on screen (lines repainted or kept from before) is what drawing
    every line afresh gives: no changed row was left unrepainted."""
    everything = Region(0, 0, table.size.width, table.size.height)
    shown = table.render_lines(everything)
    table.refresh()  # every line marked for a repaint
    assert table.render_lines(everything) == shown


def rebuilt(
    app: HermesTopApp, cursor_row: int
) -> tuple[list[str], list[list[object]], list[Strip]]:
    """What a fresh app shows for ``app``'s final state (snapshot, sort, tree, tags, folds)."""
    assert app.snapshot is not None
    fresh = make_app(FakeCore([app.snapshot]))
    out: list[tuple[list[str], list[list[object]], list[Strip]]] = []

    async def scenario(fresh: HermesTopApp, pilot: Pilot[None]) -> None:
        fresh.cpu = app.cpu  # the CPU % of the last two samples
        fresh.cpu_available = app.cpu_available
        fresh.sort, fresh.tree_mode = app.sort, app.tree_mode
        fresh.tagged = dict(app.tagged)
        fresh.collapsed = set(app.collapsed)
        fresh.refresh_view()
        await settle(pilot)
        table = fresh.query_one(ProcessTable)
        table.move_cursor(row=cursor_row, animate=False)
        await settle(pilot)
        out.append(drawn(table))

    drive(fresh, scenario, size=SIZE)
    return out[0]


def test_in_place_updates_draw_what_a_fresh_table_draws() -> None:
    first = demo_snapshot()
    later = older(first, 75)  # ages tick over minutes, 4133 leaves its seconds
    gone = replace(later, processes=tuple(p for p in later.processes if p.pid != 4131))
    cpu = with_cpu(gone, {4100: 3.0}, later=1)  # CPU times arrive: a column is added
    cpu2 = with_cpu(gone, {4100: 4.0}, later=3)
    app = make_app(FakeCore([first, later, gone, cpu, cpu2]))
    ours: list[tuple[list[str], list[list[object]], list[Strip]]] = []
    cursor: list[int] = []

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 4122)
        await pilot.press("space")  # a tag
        for _ in range(4):  # ages change, a row goes away, a CPU column comes, CPU % moves
            drawn(app.query_one(ProcessTable))  # on screen: what the next refresh must repaint
            app.request_scan()
            await settle(pilot)
            assert_screen_is_current(app.query_one(ProcessTable))
        await pilot.press("M", "I")  # re-sort: rows move, values stay
        select_pid(app, group_key(State.ORPHAN))
        await pilot.press("left")  # a fold
        await settle(pilot)
        table = app.query_one(ProcessTable)
        assert "cpu" in table.column_keys and table.get_cell("4100", "cpu").plain == "50.0"
        ours.append(drawn(table))
        cursor.append(table.cursor_row)

    drive(app, scenario, size=SIZE)
    theirs = rebuilt(app, cursor[0])
    assert ours[0][0] == theirs[0]
    assert ours[0][1] == theirs[1]
    assert ours[0][2] == theirs[2]


def test_a_refresh_with_nothing_new_touches_no_cell_and_repaints_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = demo_snapshot()
    app = make_app(FakeCore([first, first, older(first, 1), older(first, 31)]))
    updates: list[tuple[str, str]] = []
    repaints: list[int] = []

    def counted_cell(column: str, width: int, row: Row, *a: Any) -> Text:
        updates.append((row.key, column))
        return cell(column, width, row, *a)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        refresh = table.refresh

        def counted_refresh(*a: object, **kw: object) -> ProcessTable:
            repaints.append(1)
            return refresh(*a, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(process_table, "cell", counted_cell)
        table.refresh = counted_refresh  # type: ignore[method-assign]
        app.request_scan()  # the same snapshot: nothing to draw
        await settle(pilot)
        assert updates == [] and repaints == []
        for seconds in (1, 31):  # a second on, then half a minute
            updates.clear()
            app.request_scan()
            await settle(pilot)
            ticked = {
                str(p.pid)
                for p in first.processes
                if coarse_age(p.age_s) != coarse_age(p.age_s + seconds)
            }
            if seconds == 1:  # only the processes younger than a minute
                assert ticked == {"4133", "4140"}
            assert sorted(updates) == sorted((pid, "age") for pid in ticked)

    drive(app, scenario, size=SIZE)


def test_a_changed_cell_repaints_its_row_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    base = demo_snapshot()
    snapshots = [
        with_cpu(base, {4100: 1.0}),
        with_cpu(base, {4100: 2.0}, later=1),  # CPU % appears: a column, so everything
        with_cpu(base, {4100: 2.5}, later=2),  # only 4100's CPU % moves: 100.0 -> 50.0
    ]
    app = make_app(FakeCore(snapshots))
    repaints: list[tuple[Region, ...]] = []

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        refresh = table.refresh

        def counted(*regions: Region, **kw: bool) -> ProcessTable:
            repaints.append(regions)
            return refresh(*regions, **kw)

        app.request_scan()
        await settle(pilot)
        assert table.get_cell("4100", "cpu").plain == "100"
        table.refresh = counted  # type: ignore[method-assign,assignment]
        app.request_scan()
        await settle(pilot)
        table.refresh = refresh  # type: ignore[method-assign]
        assert table.get_cell("4100", "cpu").plain == "50.0"
        y = table.get_row_index("4100") + table.header_height - round(table.scroll_y)
        assert [[(r.y, r.height) for r in regions] for regions in repaints] == [[(y, 1)]]

    drive(app, scenario, size=SIZE)


def test_header_redraw_skips_layout_while_its_height_holds() -> None:
    first = demo_snapshot()
    warned = replace(first, errors=("x: permission denied",))
    one_dashboard = replace(warned, dashboards=first.dashboards[:1])
    app = make_app(FakeCore([first, warned, one_dashboard]))
    layouts: list[bool] = []

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        strip = app.query_one(HeaderStrip)
        original = strip.update

        def update(content: VisualType = "", *, layout: bool = True) -> None:
            layouts.append(layout)
            original(content, layout=layout)

        strip.update = update  # type: ignore[method-assign]
        app.request_scan()  # the warnings count changes the text, not the height
        await settle(pilot)
        assert layouts == [False]
        app.request_scan()  # one dashboard fewer: the strip shrinks, so a layout
        await settle(pilot)
        assert layouts == [False, True]

    drive(app, scenario, size=(160, 40))


def test_first_scan_started_early_is_the_first_one_shown() -> None:
    early = demo_snapshot()
    core = FakeCore([replace(early, processes=early.processes[:3])])
    ready: Future[Snapshot] = Future()
    ready.set_result(early)
    app = HermesTopApp(core, first_scan=ready)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert app.snapshot is early
        assert core.scans == 0  # the running scan was used, not a second one

    drive(app, scenario, size=SIZE)


def test_first_scan_failure_is_reported() -> None:
    failed: Future[Snapshot] = Future()
    failed.set_exception(RuntimeError("cannot read /proc"))
    app = HermesTopApp(FakeCore([demo_snapshot()]), first_scan=failed)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert app.snapshot is None
        assert any("cannot read /proc" in str(n.message) for n in app._notifications)

    drive(app, scenario, size=SIZE)
