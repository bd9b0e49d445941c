"""The process table: a line-API ScrollView kept in step with tree.Row lists.

It draws what a DataTable with a row cursor draws (same component styles, same
mouse metadata, tests/tui/test_table_lines.py compares them) but owns its rows,
so nothing relies on DataTable's private internals and a refresh costs what
changed:

- each refresh compares what every cell is drawn from (columns.row_sources) and
  builds Rich text only for cells that changed; a refresh that changes nothing
  repaints nothing (cells that would tick every second are drawn coarsely);
- a changed row repaints its own line; rows added, removed or moved repaint the
  table;
- a line is rendered once (table_lines.py: one ``Text.render`` per cell, not
  Rich's general pipeline) and kept while its cells, its place, the cursor on
  it, the width and the styles are the same.

Keys: up/down, page up/down, Home/End, Enter (RowSelected), left/right (fold).
A click on a header sorts by it; a click on a row moves the cursor there, a
second click selects it (as DataTable does). No hover highlight: over SSH
without a mouse it would only cost repaints.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hermes_top.tui.widgets.columns import (
    Column,
    cell,
    header,
    pick_columns,
    row_sources,
)
from hermes_top.tui.widgets.table_lines import table_line
from hermes_top.view.tree import Row, Sort

#: Rows are one line; the header is one line and stays on top.
HEADER_HEIGHT = 1
#: Rendered lines kept; cleared when it grows past this (a few screens' worth).
_LINES_MAX = 4_000


class ProcessTable(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("left", "fold(True)", "Fold", show=False),
        Binding("right", "fold(False)", "Unfold", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"datatable--header", "datatable--cursor"}
    # DataTable's look (textual 8.2.8), for the parts this table uses.
    DEFAULT_CSS = """
    ProcessTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class RowSelected(Message):
        """Enter (or a second click) on a row."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

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
        super().__init__(**kwargs)
        self._columns: tuple[Column, ...] = ()
        self._widths: tuple[int, ...] = ()
        self._header: tuple[Text, ...] = ()
        self._sort = Sort()
        #: Row keys top to bottom, and where each one is.
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        #: Cells of the rows drawn so far (built when a row first comes into view).
        self._cells: dict[str, tuple[Text, ...]] = {}
        #: Per row, what each cell was drawn from (see columns.row_sources).
        self._sources: dict[str, tuple[object, ...]] = {}
        self._rows: dict[str, Row] = {}
        self._tagged: Collection[int] = frozenset()
        self._cpu: dict[int, float] = {}
        self._cursor = 0
        #: Rendered lines: (key, place, cursor, width, styles) -> (its cells, Strip).
        self._lines: dict[tuple[object, ...], tuple[tuple[Text, ...], Strip]] = {}

    # -- what it shows -------------------------------------------------------------
    @property
    def header_height(self) -> int:
        return HEADER_HEIGHT

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> list[str]:
        """Row keys, top to bottom."""
        return list(self._order)

    @property
    def column_keys(self) -> list[str]:
        return [c.key for c in self._columns] + ["command"]

    @property
    def header_labels(self) -> list[Text]:
        return list(self._header)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    def row_for(self, key: str | None) -> Row | None:
        return self._rows.get(key) if key is not None else None

    def get_row_index(self, key: str) -> int:
        """Where row ``key`` is (KeyError if it is not shown)."""
        return self._index[key]

    def get_row_at(self, index: int) -> tuple[Text, ...]:
        return self._cells_of(self._order[index])

    def get_cell(self, key: str, column: str) -> Text:
        return self._cells_of(key)[self.column_keys.index(column)]

    def _cells_of(self, key: str) -> tuple[Text, ...]:
        cells = self._cells.get(key)
        if cells is None:
            row = self._rows[key]
            is_tagged = row.pid is not None and row.pid in self._tagged
            cells = self._cells[key] = tuple(
                cell(k, w, row, is_tagged, self._cpu)
                for k, w in zip(self.column_keys, self._widths, strict=True)
            )
        return cells

    # -- columns -------------------------------------------------------------------
    def configure(self, width: int, *, cpu: bool, sort: Sort) -> bool:
        """Pick columns for ``width`` (a CPU column only when there is CPU data) and
        mark the sort column; True if the columns changed (every cell drawn again)."""
        columns, command = pick_columns(width, cpu)
        widths = (*(c.width for c in columns), command)
        if columns == self._columns and widths == self._widths and sort == self._sort:
            return False
        self._columns, self._widths, self._sort = columns, widths, sort
        self._header = (*(header(c, sort) for c in columns), Text(" COMMAND"))
        self._cells.clear()
        self._sources.clear()
        self._lines.clear()
        rows = [self._rows[k] for k in self._order]
        self._order, self._index, self._rows = [], {}, {}
        self.show_rows(rows, self._tagged, self._cpu, self.cursor_key)
        self.refresh()
        return True

    # -- content -------------------------------------------------------------------
    def show_rows(
        self,
        rows: list[Row],
        tagged: Collection[int],
        cpu: Mapping[int, float],
        keep: str | None,
    ) -> None:
        """Show ``rows`` in order, building text only for the cells that changed."""
        self._tagged = tagged
        self._cpu = dict(cpu)
        keep = keep if keep is not None else self.cursor_key
        if not self._columns:  # not configured yet: shown once it is
            self._rows = {r.key: r for r in rows}
            self._order = [r.key for r in rows]
            self._index = {k: i for i, k in enumerate(self._order)}
            return
        keys = self.column_keys
        widths = self._widths
        # Cells are built when a row comes into view: a changed row out of view
        # only forgets its cells; one in view rebuilds the cells that changed.
        top = round(self.scroll_y)
        in_view = set(self._order[top : top + max(self.size.height - HEADER_HEIGHT, 0)])
        changed: list[str] = []
        wanted: dict[str, Row] = {}
        for row in rows:
            wanted[row.key] = row
            is_tagged = row.pid is not None and row.pid in tagged
            sources = row_sources(keys, row, is_tagged, self._cpu)
            was = self._sources.get(row.key)
            self._sources[row.key] = sources
            if was is None or sources == was:
                continue
            cells = self._cells.get(row.key)
            if cells is None:
                continue
            if row.key not in in_view:
                del self._cells[row.key]
                continue
            new = list(cells)
            for i, (now, before) in enumerate(zip(sources, was, strict=True)):
                if now != before:
                    text = cell(keys[i], widths[i], row, is_tagged, self._cpu)
                    if text != new[i]:
                        new[i] = text
                        changed.append(row.key)
            self._cells[row.key] = tuple(new)
        for key in [k for k in self._sources if k not in wanted]:
            del self._sources[key]
            self._cells.pop(key, None)
        order = list(wanted)
        old_index = self._cursor
        self._rows = wanted
        if order != self._order:
            self._order = order
            self._index = {k: i for i, k in enumerate(order)}
            self.virtual_size = Size(sum(widths), HEADER_HEIGHT + len(order))
            self.refresh()
        else:
            # Only the rows whose text changed, and only those in view: scrolling
            # repaints what comes into view.
            for key in dict.fromkeys(changed):
                self._refresh_row(self._index[key])
        self._restore_cursor(keep, old_index)

    def _restore_cursor(self, key: str | None, old_index: int) -> None:
        if not self._order:
            self._cursor = 0
            return
        index = self._index.get(key, old_index) if key is not None else old_index
        self.move_cursor(row=index, animate=False)

    # -- cursor --------------------------------------------------------------------
    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (clamped); RowHighlighted if it moved."""
        if not self._order:
            return
        row = min(max(row, 0), len(self._order) - 1)
        old = self._cursor
        self._cursor = row
        if scroll:
            self._scroll_cursor_into_view(animate)
        if row != old:
            self._refresh_row(old)
            self._refresh_row(row)
            self.post_message(self.RowHighlighted(self._order[row]))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        region = Region(0, self._cursor + HEADER_HEIGHT, max(self.size.width, sum(self._widths)), 1)
        self.scroll_to_region(
            region, animate=animate, spacing=Spacing(top=HEADER_HEIGHT), force=True
        )

    def _refresh_row(self, index: int) -> None:
        y = index + HEADER_HEIGHT - round(self.scroll_y)
        if HEADER_HEIGHT <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def on_resize(self, event: events.Resize) -> None:
        # The details pane (or a smaller terminal) takes rows away: keep the
        # selected process in view rather than leaving it below the fold.
        if self._order and (event.size.height < event.virtual_size.height or self._cursor):
            self.move_cursor(row=self._cursor, animate=False)

    # -- drawing -------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y < HEADER_HEIGHT:
            return self._line(None, -1, False, width, base)
        index = y - HEADER_HEIGHT + round(self.scroll_y)
        if not 0 <= index < len(self._order):
            return Strip.blank(width, base)
        return self._line(self._order[index], index, index == self._cursor, width, base)

    def _line(self, key: str | None, index: int, cursor: bool, width: int, base: Style) -> Strip:
        cursor_style = self.get_component_rich_style("datatable--cursor") if cursor else None
        cells = self._header if key is None else self._cells_of(key)
        # Cell tuples are replaced, never changed: identity is their version.
        cache_key = (key, index, cursor_style, width, base)
        hit = self._lines.get(cache_key)
        if hit is not None and hit[0] is cells:
            return hit[1]
        if key is None:
            row_style = self.get_component_styles("datatable--header").rich_style
        else:
            row_style = base
        component = cursor_style or Style()
        post = (
            Style.from_color(color=cursor_style.color)
            + Style.from_color(bgcolor=cursor_style.bgcolor)
            if cursor_style is not None
            else Style()
        )
        app = self.app
        strip = table_line(
            app.console,
            app.console_options,
            cells,
            self._widths,
            index,
            row_style,
            component,
            post,
            width,
            base,
        )
        if len(self._lines) >= _LINES_MAX:
            self._lines.clear()
        self._lines[cache_key] = (cells, strip)
        return strip

    # -- mouse ---------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        if "row" not in meta or "column" not in meta:
            return
        event.stop()
        row, column = meta["row"], meta["column"]
        if row == -1:
            if column < len(self._columns) and self._columns[column].sort is not None:
                self.post_message(self.SortRequested(self._columns[column].sort or ""))
            return
        again = row == self._cursor
        self.move_cursor(row=row, animate=True)
        if again and self._order:
            self.post_message(self.RowSelected(self._order[self._cursor]))

    # -- keys ----------------------------------------------------------------------
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_HEIGHT)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_page_down(self) -> None:
        self.scroll_relative(y=self._page(), animate=False, force=True)
        self.move_cursor(row=self._cursor + self._page(), scroll=False)

    def action_page_up(self) -> None:
        self.scroll_relative(y=-self._page(), animate=False, force=True)
        self.move_cursor(row=self._cursor - self._page(), scroll=False)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._order) - 1)

    def action_select(self) -> None:
        if self._order:
            self.post_message(self.RowSelected(self._order[self._cursor]))

    def action_fold(self, fold: bool) -> None:
        row = self.row_for(self.cursor_key)
        if row is not None and row.has_children:
            self.post_message(self.FoldRequested(row.key, fold))
