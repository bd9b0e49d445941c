"""The process table: a DataTable updated in place from tree.Row lists.

Each refresh removes rows that went away, rewrites only the cells whose text
changed, adds new rows, re-orders only if the order changed, and puts the cursor
back on the same row key (the pid). No clear-and-refill, so no flicker and no
lost cursor. A refresh that changes no cell calls no DataTable method, so it
repaints nothing (cells that would tick every second are drawn coarsely, see
columns.py).

A changed cell repaints its row only. ``update_cell`` marks the whole table
for a repaint, so an idle refresh where two CPU % cells changed repainted (and
re-sent to the terminal) every visible row: ~37 KB/s at 200x50. The columns
have fixed widths, so a changed cell moves nothing: while ``_update_in_row``
runs, that whole-table ``refresh()`` is dropped, and show_rows repaints the
changed rows with the public ``refresh_row``. Rows added, removed or moved still
repaint the table.

One DataTable internal is overridden, because measuring showed it is needed:
``_render_cell``. DataTable keys its cell cache on a table-wide update counter,
so one changed cell (a young process's age, a CPU %) or one row added makes it
re-render every visible cell through Rich on the next paint: 54 ms of CPU per
refresh at 200x50 instead of 15 ms; with one process coming and going every
second, 19.8 % of a core without it against 8.0 % with it (replayed at 200x50,
no scan cost). Here a cell is re-rendered only when its value (cell values are
never mutated once handed to the table, so identity is version), place, width
or styles changed. It reads the cell through the public ``get_cell_at``;
tests/tui/test_tui_render.py checks it draws exactly what DataTable's own method
draws, and that the screen after any run of refreshes is what a fresh table
draws. (textual is pinned exactly: see pyproject.toml.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Self

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from hermes_top.tui.widgets.columns import (
    Column,
    cell,
    header,
    pick_columns,
    row_sources,
)
from hermes_top.view.tree import Row, Sort

#: Rendered cells kept by place; cleared when it grows past this (a few screens' worth).
_RENDERED_MAX = 20_000


class ProcessTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "fold(True)", "Fold", show=False),
        Binding("right", "fold(False)", "Unfold", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
    ]
    DEFAULT_CSS = """
    ProcessTable { scrollbar-size-vertical: 1; }
    """
    #: True while update_cell runs for show_rows (see _update_in_row).
    _in_row_update: bool = False

    class FoldRequested(Message):
        """Left/right on a row with children (True folds, False unfolds)."""

        def __init__(self, key: str, fold: bool) -> None:
            super().__init__()
            self.key = key
            self.fold = fold

    class SortRequested(Message):
        """A click on a sortable column's header."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._columns: tuple[Column, ...] = ()
        self._command_width = 0
        self._sort = Sort()
        self._cells: dict[str, tuple[Text, ...]] = {}
        #: Per row, what each cell was drawn from (see columns.cell_source).
        self._sources: dict[str, tuple[object, ...]] = {}
        self._rows: dict[str, Row] = {}
        self._order: list[str] = []
        self._tagged: Collection[int] = frozenset()
        self._cpu: dict[int, float] = {}
        #: Rendered body cells: (place, width, styles) -> (the value rendered, its lines).
        self._rendered: dict[tuple[object, ...], tuple[object, list[list[Segment]]]] = {}

    # -- rendering -----------------------------------------------------------------
    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        # Header, labels and the (one) row under the mouse: DataTable's own way.
        if row_index < 0 or column_index < 0 or hover:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = self.get_cell_at(Coordinate(row_index, column_index))
        key = (row_index, column_index, base_style, width, cursor)
        hit = self._rendered.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._rendered) >= _RENDERED_MAX:
            self._rendered.clear()
        self._rendered[key] = (value, lines)
        return lines

    def notify_style_update(self) -> None:
        self._rendered.clear()  # component styles (theme, pseudo-classes) changed
        super().notify_style_update()

    def on_focus(self) -> None:
        self._rendered.clear()  # the cursor is drawn differently with and without focus

    def on_blur(self) -> None:
        self._rendered.clear()

    def watch_show_cursor(self, show_cursor: bool) -> None:
        self._rendered.clear()
        super().watch_show_cursor(show_cursor)

    # -- layout ------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        # The details pane (or a smaller terminal) takes rows away: keep the
        # selected process in view rather than leaving it below the fold.
        if self.row_count and (event.size.height < event.virtual_size.height or self.cursor_row):
            self.move_cursor(row=self.cursor_row, animate=False)

    @property
    def column_keys(self) -> list[str]:
        return [c.key for c in self._columns] + ["command"]

    def configure(self, width: int, *, cpu: bool, sort: Sort) -> bool:
        """Pick columns for ``width`` (a CPU column only when there is CPU data) and
        mark the sort column; True if the columns changed (every row re-added)."""
        columns, command = pick_columns(width, cpu)
        if columns == self._columns and command == self._command_width and sort == self._sort:
            return False
        cursor_key = self.cursor_key
        self._columns, self._command_width, self._sort = columns, command, sort
        self.clear(columns=True)
        self._rendered.clear()
        for col in columns:
            self.add_column(header(col, sort), width=col.width, key=col.key)
        self.add_column(Text(" COMMAND"), width=command, key="command")
        self._cells.clear()
        self._sources.clear()
        rows = [self._rows[k] for k in self._order]
        self._order = []
        self._rows = {}
        if rows:
            self.show_rows(rows, self._tagged, self._cpu, cursor_key)
        return True

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = next((c for c in self._columns if c.key == event.column_key.value), None)
        if column is not None and column.sort is not None:
            self.post_message(self.SortRequested(column.sort))

    # -- content -----------------------------------------------------------------
    @property
    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def row_for(self, key: str | None) -> Row | None:
        return self._rows.get(key) if key is not None else None

    def show_rows(
        self,
        rows: list[Row],
        tagged: Collection[int],
        cpu: Mapping[int, float],
        keep: str | None,
    ) -> None:
        """Make the table show ``rows`` in order, touching only what changed."""
        self._tagged = tagged
        self._cpu = dict(cpu)
        if not self._columns:
            self._rows = {r.key: r for r in rows}
            self._order = [r.key for r in rows]
            return
        keep = keep if keep is not None else self.cursor_key
        old_index = self.cursor_row
        wanted = {r.key: r for r in rows}
        table_order = [k for k in self._order if k in wanted]
        for key in [k for k in self._order if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
            del self._sources[key]
        keys = self.column_keys
        widths = [c.width for c in self._columns] + [self._command_width]
        changed: list[str] = []
        for row in rows:
            is_tagged = row.pid is not None and row.pid in tagged
            sources = row_sources(keys, row, is_tagged, self._cpu)
            was = self._sources.get(row.key)
            if was is None:
                cells = tuple(
                    cell(k, w, row, is_tagged, self._cpu) for k, w in zip(keys, widths, strict=True)
                )
                self.add_row(*cells, key=row.key)
                table_order.append(row.key)
            elif sources != was:
                new = list(self._cells[row.key])
                for i, (now, before) in enumerate(zip(sources, was, strict=True)):
                    if now != before:
                        text = cell(keys[i], widths[i], row, is_tagged, self._cpu)
                        if text != new[i]:
                            new[i] = text
                            self._update_in_row(row.key, keys[i], text)
                            changed.append(row.key)
                cells = tuple(new)
            else:
                continue
            self._sources[row.key] = sources
            self._cells[row.key] = cells
        self._rows = wanted
        order = [r.key for r in rows]
        if table_order != order:
            rank = {k: i for i, k in enumerate(order)}
            self.sort("pid", key=lambda pid_cell: rank[pid_cell.row_key])
        self._order = order
        # Only the rows whose text changed are repainted (a row added, removed or
        # moved has repainted the whole table already), and only those in view:
        # scrolling repaints what comes into view.
        if changed:
            top = round(self.scroll_y)
            bottom = top + self.size.height
            for key in dict.fromkeys(changed):
                index = self.get_row_index(key)
                if top <= index < bottom:
                    self.refresh_row(index)
        self._restore_cursor(keep, old_index)

    def _update_in_row(self, row_key: str, column_key: str, text: Text) -> None:
        """``update_cell`` without its whole-table repaint: the widths are fixed,
        so the new text moves nothing, and show_rows repaints just this row."""
        self._in_row_update = True
        try:
            self.update_cell(row_key, column_key, text)
        finally:
            self._in_row_update = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._in_row_update and not regions and not layout and not recompose:
            return self  # update_cell's repaint of everything: see _update_in_row
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _restore_cursor(self, key: str | None, old_index: int) -> None:
        if not self.row_count:
            return
        try:
            index = self.get_row_index(key) if key is not None else old_index
        except RowDoesNotExist:
            index = old_index  # the row went away: stay at the same height
        index = min(max(index, 0), self.row_count - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    # -- keys --------------------------------------------------------------------
    def action_fold(self, fold: bool) -> None:
        row = self.row_for(self.cursor_key)
        if row is not None and row.has_children:
            self.post_message(self.FoldRequested(row.key, fold))

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)
