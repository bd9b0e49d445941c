"""The process table draws each line as a DataTable with a row cursor draws it.

The table no longer is a DataTable (process_table.py): its lines come from
table_lines.py. Here a DataTable and the table show the same cells side by side,
and every line (header, rows, the filler past the last column) must be the same
segments: characters, colours, text styles and the mouse metadata, with the
cursor on different rows, scrolled, focused or not, in colour and in ANSI
colours, narrow and wide (other columns), with and without a CPU column.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from hermes_top.core.escape import escape_argv
from hermes_top.core.model import Snapshot
from hermes_top.testing import demo_snapshot
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.tui.widgets.table_lines import cell_segments
from hermes_top.view.tree import Sort, build_rows

HEIGHT = 12


class Pair(App[None]):
    CSS = f"ProcessTable, DataTable {{ height: {HEIGHT}; scrollbar-size-vertical: 1; }}"

    def compose(self) -> ComposeResult:
        yield ProcessTable(id="ours")
        yield DataTable(id="theirs", cursor_type="row", zebra_stripes=False, cell_padding=0)


def odd_snapshot() -> Snapshot:
    """The demo, plus wide characters and a command far wider than any screen."""
    snap = demo_snapshot()
    wide = ("python", "-m", "tui_gateway.entry", "数据库-会话", "é" * 3, "x" * 400)
    procs = tuple(
        replace(p, cmdline=escape_argv(wide)) if p.pid == 4122 else p for p in snap.processes
    )
    return replace(snap, processes=procs)


def lines(widget: ProcessTable | DataTable[Text]) -> list[list[Segment]]:
    return [list(widget.render_line(y)) for y in range(widget.size.height)]


def compare(width: int, *, cpu: bool, tree: bool, theme: str) -> None:
    snap = odd_snapshot()
    cpu_percent = {p.pid: 12.5 * (p.pid % 9) for p in snap.processes} if cpu else {}
    rows = build_rows(
        snap, tree=tree, sort=Sort(), collapsed=set(), filter_text="", cpu=cpu_percent
    )
    tagged = {4100, 4131}
    app = Pair(ansi_color=theme == "ansi")
    if theme != "ansi":
        app.theme = theme
    mismatches: list[str] = []

    async def main() -> None:
        async with app.run_test(size=(width, 2 * HEIGHT)) as pilot:
            ours = app.query_one(ProcessTable)
            theirs: DataTable[Text] = app.query_one(DataTable)
            ours.configure(width, cpu=cpu, sort=Sort())
            ours.show_rows(rows, tagged, cpu_percent, None)
            for label, key, w in zip(
                ours.header_labels, ours.column_keys, ours._widths, strict=True
            ):
                theirs.add_column(label, width=w, key=key)
            for index, key in enumerate(ours.row_keys):
                theirs.add_row(*ours.get_row_at(index), key=key)
            await pilot.pause()
            assert ours.row_count == theirs.row_count > HEIGHT  # enough rows to scroll
            for row in (0, 3, ours.row_count - 1, 5):
                ours.move_cursor(row=row)
                theirs.move_cursor(row=row)
                await pilot.pause()
                assert round(ours.scroll_y) == round(theirs.scroll_y)
                app.set_focus(None)
                await pilot.pause()
                if lines(ours) != lines(theirs):
                    mismatches.append(f"row {row}, neither focused")
                ours.focus()
                await pilot.pause()
                focused = lines(ours)
                theirs.focus()
                await pilot.pause()
                if focused != lines(theirs):
                    mismatches.append(f"row {row}, focused")

    asyncio.run(main())
    assert mismatches == []


@pytest.mark.parametrize(
    ("width", "cpu", "tree", "theme"),
    [
        (80, False, True, "textual-dark"),
        (120, True, True, "textual-dark"),
        (200, True, False, "textual-light"),
        (100, False, True, "ansi"),
    ],
)
def test_every_line_is_what_a_datatable_draws(
    width: int, cpu: bool, tree: bool, theme: str
) -> None:
    compare(width, cpu=cpu, tree=tree, theme=theme)


def test_a_cell_off_the_simple_path_is_drawn_by_rich() -> None:
    """Tabs, newlines, text wider than its cell, centred text: Rich's own pipeline."""
    from rich.console import Console

    console = Console(width=40)
    options = console.options
    pre, post = Style(bgcolor="blue"), Style(color="red")
    for text in (
        Text("a\tb"),
        Text("one\ntwo"),
        Text("far too wide"),
        Text("mid", justify="center"),
    ):
        segments = cell_segments(console, options, text, 6, pre, post)
        assert sum(len(s.text) for s in segments) == 6
    simple = cell_segments(console, options, Text("ok", style="bold"), 6, pre, post)
    assert [s.text for s in simple] == ["ok", "    "]
    assert simple[0].style == pre + Style(bold=True) + post
