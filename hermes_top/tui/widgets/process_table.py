"""The process table: a DataTable updated in place from tree.Row lists.

Each refresh removes rows that went away, rewrites only the cells whose text
changed, adds new rows, re-orders only if the order changed, and puts the cursor
back on the same row key (the pid). No clear-and-refill, so no flicker and no
lost cursor.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._types import SegmentLines
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist, RowKey

from hermes_top.core.format import STATE_MARK, format_age
from hermes_top.core.model import State
from hermes_top.tui.styles import STATE_STYLE, TAG_STYLE
from hermes_top.tui.tree import (
    ORPHAN_GROUP_LABEL,
    ROLE_SHORT,
    Row,
    short_command,
    short_session,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


WIDE_COLUMNS = (
    Column("pid", "PID", 8),
    Column("role", "ROLE", 7),
    Column("session", "SESSION", 7),
    Column("state", "STATE", 8),
    Column("age", "AGE", 6),
    Column("fds", "FDS", 4),
    Column("user", "USER", 8),
)
# 80 columns: the session key moves to the details pane; the rest narrows.
NARROW_COLUMNS = (
    Column("pid", "PID", 6),
    Column("role", "ROLE", 6),
    Column("state", "STATE", 8),
    Column("age", "AGE", 5),
    Column("fds", "FDS", 4),
    Column("user", "USER", 5),
)
WIDE_FROM = 110
COMMAND_MIN = 20
#: Rendered cells kept by position; cleared when it grows past this (a few screens' worth).
_RENDERED_MAX = 20_000


class KeyedText(Text):
    """PID cell that knows its row key, so DataTable.sort can put rows in tree order."""

    row_key: str = ""


class ProcessTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "fold(True)", "Fold", show=False),
        Binding("right", "fold(False)", "Unfold", show=False),
    ]

    class FoldRequested(Message):
        """Left/right on a row with children (True folds, False unfolds)."""

        def __init__(self, key: str, fold: bool) -> None:
            super().__init__()
            self.key = key
            self.fold = fold

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._columns: tuple[Column, ...] = ()
        self._command_width = 0
        self._cells: dict[str, tuple[Text, ...]] = {}
        #: Per row, what each cell was drawn from (see _sources_for).
        self._sources: dict[str, tuple[object, ...]] = {}
        self._rows: dict[str, Row] = {}
        self._order: list[str] = []
        #: Rendered cells by (position, styles) -> (the cell value rendered, its lines).
        self._rendered: dict[tuple[object, ...], tuple[object, SegmentLines]] = {}

    # -- rendering ---------------------------------------------------------------
    # DataTable keys its render caches on a table-wide update counter, so one
    # changed cell (an age ticking) makes it re-render every visible cell through
    # Rich on the next paint. Cell values here are never mutated once handed to
    # the table, so a value's identity is its version: a cell is re-rendered only
    # when its value, place or styles changed. (textual is pinned: see pyproject.)
    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        if row_index < 0 or column_index < 0:  # header and label cells: rare, keep as is
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cells = self._data.get(row_key) if row_key is not None else None
        value = cells.get(column_key) if cells is not None and column_key is not None else None
        key = (
            row_index,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        hit = self._rendered.get(key)
        if hit is not None and hit[0] is value and value is not None:
            return hit[1]
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._rendered) >= _RENDERED_MAX:
            self._rendered.clear()
        self._rendered[key] = (value, lines)
        return lines

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        # DataTable's version looks up the header's and fixed cells' component
        # styles for every line it draws (tens of microseconds each, ~40% of a
        # table repaint) even when, as here, the row has neither. For body rows of
        # this table (row cursor, no labels, no fixed rows or columns, no zebra)
        # this is the same computation without those lookups; anything else, and
        # the header, goes to DataTable. tests/tui/test_tui_render.py compares both.
        row_index = self._row_locations.get(row_key)
        if (
            row_index is None
            or row_index < self.fixed_rows
            or self.fixed_columns
            or self._should_render_row_labels
            or self.zebra_stripes
            or self.cursor_type != "row"
        ):
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        cache_key = (
            row_key,
            line_no,
            base_style,
            cursor_location,
            hover_location,
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._row_render_cache.get(cache_key)
        if cached is not None:
            return cached
        on_cursor = cursor_location.row == row_index
        hovered = hover_location.row == row_index
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        scrollable: list[list[Segment]] = [
            self._render_cell(row_index, i, base_style, width, cursor=on_cursor, hover=hovered)[
                line_no
            ]
            for i, width in enumerate(widths)
        ]
        remaining = max(0, self.size.width - sum(widths) - self._row_label_column_width)
        extend_style, _ = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover_location.row == (row_index or 0),
            on_cursor,
            self.show_cursor,
            self._show_hover_cursor,
            False,
            False,
        )
        extend_style = base_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        scrollable.append([Segment(" " * remaining, extend_style)])
        pair: tuple[SegmentLines, SegmentLines] = ([], scrollable)
        self._row_render_cache[cache_key] = pair
        return pair

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # DataTable measures every cell of every new row to size auto-width columns
        # and auto-height rows (~60 ms for the first 200 rows, before the first
        # paint). Every column here has a set width and every row is one line high,
        # so only the virtual size, computed as DataTable does, is left to update.
        keys = list(new_rows)
        rows = [self.rows.get(key) for key in keys]
        if any(c.auto_width for c in self.columns.values()) or any(
            row is not None and (row.auto_height or row.label is not None) for row in rows
        ):
            super()._update_dimensions(keys)
            return
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header_height = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + header_height
        )

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()

    def notify_style_update(self) -> None:
        self._rendered.clear()
        super().notify_style_update()

    # -- layout ------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        # The details pane (or a smaller terminal) takes rows away: keep the
        # selected process in view rather than leaving it below the fold.
        if event.size.height < event.virtual_size.height or self.cursor_row > 0:
            self._scroll_cursor_into_view(animate=False)

    def set_width(self, width: int) -> bool:
        """Pick columns for ``width``; True if the columns changed (rows re-rendered)."""
        columns = WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS
        fixed = sum(c.width + 2 * self.cell_padding for c in columns)
        command = max(width - fixed - 2 * self.cell_padding - 2, COMMAND_MIN)
        if columns == self._columns and command == self._command_width:
            return False
        cursor_key = self.cursor_key
        self._columns = columns
        self._command_width = command
        self.clear(columns=True)
        for col in columns:
            self.add_column(col.label, width=col.width, key=col.key)
        self.add_column("COMMAND", width=command, key="command")
        self._cells.clear()
        self._sources.clear()
        rows = [self._rows[k] for k in self._order]
        self._order = []
        self._rows = {}
        if rows:
            self.show_rows(rows, self._tagged, cursor_key)
        return True

    # -- content -----------------------------------------------------------------
    _tagged: Collection[int] = frozenset()

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

    def show_rows(self, rows: list[Row], tagged: Collection[int], keep: str | None) -> None:
        """Make the table show ``rows`` in order, touching only what changed."""
        self._tagged = tagged
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
        column_keys = [c.key for c in self._columns] + ["command"]
        changed: list[tuple[str, str, Text]] = []
        for row in rows:
            is_tagged = row.pid in tagged if row.pid is not None else False
            sources = self._sources_for(row, is_tagged)
            was = self._sources.get(row.key)
            if was is None:
                cells = self._cells_for(row, is_tagged)
                self.add_row(*cells, key=row.key)
                table_order.append(row.key)
            elif sources != was:
                new = list(self._cells[row.key])
                for i, (now, before) in enumerate(zip(sources, was, strict=True)):
                    if now != before:
                        cell = self._cell(i, row, is_tagged)
                        if cell != new[i]:
                            new[i] = cell
                            changed.append((row.key, column_keys[i], cell))
                cells = tuple(new)
            else:
                continue
            self._sources[row.key] = sources
            self._cells[row.key] = cells
        self._update_cells(changed)
        self._rows = wanted
        order = [r.key for r in rows]
        if table_order != order:
            rank = {k: i for i, k in enumerate(order)}
            self.sort("pid", key=lambda cell: rank[cell.row_key])
        self._order = order
        self._restore_cursor(keep, old_index)

    def _update_cells(self, changed: list[tuple[str, str, Text]]) -> None:
        """``update_cell`` for many cells, with one repaint instead of one per cell."""
        if not changed:
            return
        # Each update_cell repaints the whole table; with an age ticking in every
        # row that is hundreds of repaints per scan. Hold them, then repaint once.
        self._holding_repaints = True
        try:
            for row_key, column_key, value in changed:
                self.update_cell(row_key, column_key, value)
        finally:
            self._holding_repaints = False
        self.refresh()

    _holding_repaints = False

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._holding_repaints and not (regions or layout or recompose):
            return self
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

    def _sources_for(self, row: Row, tagged: bool) -> tuple[object, ...]:
        """Per cell, everything it is drawn from: equal sources mean an equal cell.

        Cheap to build and compare, so rows that did not change cost no Rich text.
        """
        proc = row.proc
        if proc is None:
            group = (row.guide, row.has_children, row.collapsed, row.count)
            return (*(None for _ in self._columns), group)
        by_column: dict[str, object] = {
            "pid": tagged,
            "role": proc.role,
            "session": proc.session_key,
            "state": proc.state,
            "age": format_age(proc.age_s),
            "fds": proc.num_fds,
            "user": proc.username,
        }
        command = (
            row.guide,
            row.has_children,
            row.collapsed,
            proc.status,
            proc.state,
            proc.cmdline,
            proc.name,
        )
        return (*(by_column[c.key] for c in self._columns), command)

    def _cells_for(self, row: Row, tagged: bool) -> tuple[Text, ...]:
        return tuple(self._cell(i, row, tagged) for i in range(len(self._columns) + 1))

    def _cell(self, index: int, row: Row, tagged: bool) -> Text:
        """The cell in column ``index`` (the last one is the command)."""
        proc = row.proc
        fold = ("▸ " if row.collapsed else "▾ ") if row.has_children else ""
        if index == len(self._columns):
            return self._command_cell(row, fold)
        column = self._columns[index].key
        if column == "pid":
            pid = KeyedText()
            pid.row_key = row.key
            if proc is not None:
                pid.append("*" if tagged else " ", style=TAG_STYLE)
                pid.append(str(proc.pid), style=TAG_STYLE if tagged else "")
            return pid
        if proc is None:
            return Text()
        if column == "role":
            return Text(ROLE_SHORT[proc.role])
        if column == "session":
            return Text(short_session(proc.session_key), style="dim")
        if column == "state":
            return Text(STATE_MARK[proc.state], style=STATE_STYLE[proc.state])
        if column == "age":
            return Text(format_age(proc.age_s), justify="right")
        if column == "fds":
            return Text(
                "-" if proc.num_fds is None else str(proc.num_fds),
                justify="right",
                style="dim" if proc.num_fds is None else "",
            )
        return Text(proc.username)

    def _command_cell(self, row: Row, fold: str) -> Text:
        proc = row.proc
        if proc is None:
            label = Text(row.guide + fold + f"{ORPHAN_GROUP_LABEL}: {row.count}", style="bold")
            label.stylize(STATE_STYLE[State.ORPHAN], len(row.guide + fold))
            return label
        style = STATE_STYLE[proc.state] if proc.state != State.LIVE else ""
        command = Text(row.guide, style="dim")
        command.append(fold, style="bold")
        if proc.status in ("T", "t") and proc.state != State.ZOMBIE:
            command.append("⏸ ", style="bold")
        command.append(short_command(proc.cmdline) or f"[{proc.name}]", style=style)
        if proc.status == "Z":
            command.append(" <defunct>", style=style)
        command.truncate(self._command_width, overflow="ellipsis")
        return command

    def action_fold(self, fold: bool) -> None:
        row = self.row_for(self.cursor_key)
        if row is not None and row.has_children:
            self.post_message(self.FoldRequested(row.key, fold))
