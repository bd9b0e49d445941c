"""The table's cheaper paint paths draw exactly what DataTable's own would.

ProcessTable overrides three DataTable internals for speed (see process_table.py):
a cell cache keyed by the cell value instead of a table-wide counter, a body-row
render without the unused header/fixed style lookups, and dimensions without
measuring fixed-width cells. Each test compares the override with DataTable's own
method on the same table, after refreshes that change cells, move the cursor and
re-sort; and checks that a refresh only builds and repaints what changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import replace

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.pilot import Pilot
from textual.visual import VisualType
from textual.widgets import DataTable
from tui_helpers import make_app, select_pid, settle

from hermes_top.core.format import format_age
from hermes_top.core.model import Snapshot
from hermes_top.testing import FakeCore, demo_snapshot
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.tree import Row
from hermes_top.tui.widgets.header import HeaderStrip
from hermes_top.tui.widgets.process_table import ProcessTable

Scenario = Callable[[HermesTopApp, Pilot[None]], Awaitable[None]]


def drive(app: HermesTopApp, scenario: Scenario, size: tuple[int, int] = (120, 36)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(app, pilot)

    asyncio.run(main())


def older(snapshot: Snapshot, seconds: float) -> Snapshot:
    """The same processes, ``seconds`` later: every age moves on."""
    procs = tuple(replace(p, age_s=p.age_s + seconds) for p in snapshot.processes)
    return replace(snapshot, processes=procs, taken_at=snapshot.taken_at + seconds)


def assert_same_as_datatable(table: ProcessTable) -> None:
    """Every body cell and row line, rendered by the overrides and by DataTable."""
    base = table.rich_style
    cursor, hover = table.cursor_coordinate, Coordinate(2, 0)
    widths = [c.get_render_width(table) for c in table.ordered_columns]
    for row_index, row in enumerate(table.ordered_rows):
        for column_index, width in enumerate(widths):
            on_cursor = row_index == cursor.row
            ours = table._render_cell(row_index, column_index, base, width, on_cursor)
            table._cell_render_cache.clear()
            theirs = DataTable._render_cell(table, row_index, column_index, base, width, on_cursor)
            assert ours == theirs, (row.key.value, column_index)
        ours_line = table._render_line_in_row(row.key, 0, base, cursor, hover)
        table._row_render_cache.clear()
        theirs_line = DataTable._render_line_in_row(table, row.key, 0, base, cursor, hover)
        table._row_render_cache.clear()
        assert ours_line == theirs_line, row.key.value


def test_overrides_render_what_datatable_renders_across_refreshes() -> None:
    first = demo_snapshot()
    later = older(first, 7)
    gone = replace(later, processes=tuple(p for p in later.processes if p.pid != 4131))
    app = make_app(FakeCore([first, later, gone]))

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        assert_same_as_datatable(table)
        select_pid(app, 4122)
        await pilot.pause()
        for _ in range(2):  # ages change, then a row goes away (rows shift up)
            app.request_scan()
            await settle(pilot)
            assert_same_as_datatable(table)
        await pilot.press("s", "s")  # re-sort by age: rows move, values stay
        await settle(pilot)
        assert_same_as_datatable(table)
        table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert_same_as_datatable(table)

    drive(app, scenario)


def test_dimensions_match_datatable() -> None:
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        keys = [row.key for row in table.ordered_rows]
        table._update_dimensions(keys)
        ours = table.virtual_size
        table.virtual_size = ours.with_width(1)
        DataTable._update_dimensions(table, keys)
        assert table.virtual_size == ours

    drive(app, scenario)


def test_refresh_builds_and_repaints_only_changed_cells() -> None:
    first = demo_snapshot()
    app = make_app(FakeCore([first, first, older(first, 1)]))
    built: list[int] = []
    repaints: list[int] = []

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        original_cell = table._cell
        original_refresh = table.refresh

        def cell(index: int, row: Row, tagged: bool) -> Text:
            built.append(index)
            return original_cell(index, row, tagged)

        def refresh(
            *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
        ) -> ProcessTable:
            if not table._holding_repaints:
                repaints.append(1)
            return original_refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

        table._cell = cell  # type: ignore[method-assign]
        app.request_scan()  # the same snapshot: nothing to build, nothing to repaint
        await settle(pilot)
        assert built == []
        table.refresh = refresh  # type: ignore[method-assign]
        app.request_scan()  # one second on: only ages shown to the second change
        await settle(pilot)
        age = [c.key for c in table._columns].index("age")
        ticked = [p for p in first.processes if format_age(p.age_s) != format_age(p.age_s + 1)]
        assert ticked and built == [age] * len(ticked)
        assert len(repaints) == 1  # one for the whole batch, not one per cell

    drive(app, scenario)


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
        app.request_scan()  # one dashboard block fewer: the strip shrinks, so a layout
        await settle(pilot)
        assert layouts == [False, True]

    drive(app, scenario)


def test_first_scan_started_early_is_the_first_one_shown() -> None:
    early = demo_snapshot()
    core = FakeCore([replace(early, processes=early.processes[:3])])
    ready: Future[Snapshot] = Future()
    ready.set_result(early)
    app = HermesTopApp(core, first_scan=ready)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert app.snapshot is early
        assert core.scans == 0  # the running scan was used, not a second one

    drive(app, scenario)


def test_first_scan_failure_is_reported() -> None:
    failed: Future[Snapshot] = Future()
    failed.set_exception(RuntimeError("cannot read /proc"))
    app = HermesTopApp(FakeCore([demo_snapshot()]), first_scan=failed)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert app.snapshot is None
        assert any("cannot read /proc" in str(n.message) for n in app._notifications)

    drive(app, scenario)


def test_unused_style_is_not_part_of_the_row_key() -> None:
    """The row cache still separates base styles (focus, hover) as DataTable's does."""
    app = make_app()

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(ProcessTable)
        row = table.ordered_rows[1].key
        cursor = table.cursor_coordinate
        plain = table._render_line_in_row(row, 0, table.rich_style, cursor, Coordinate(-1, 0))
        bold = table._render_line_in_row(
            row, 0, table.rich_style + Style(bold=True), cursor, Coordinate(-1, 0)
        )
        assert plain != bold

    drive(app, scenario)
