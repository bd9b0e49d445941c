"""The TUI's non-destructive keys: sorting, the filter, tags, tree/flat, folds,
details, pause and the refresh interval. Each changes view state and redraws."""

from __future__ import annotations

from hermes_top.core.model import ProcessInfo
from hermes_top.tui import keys
from hermes_top.tui.actions import ActionFlows
from hermes_top.tui.widgets.filter_bar import FilterBar, FilterRow
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.tree import SORT_ORDER, Sort, descendants

INTERVALS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
#: Actions that need the main screen (blocked, and hidden from the footer, while
#: a dialog, help or the palette is open).
_MAIN_ACTIONS = frozenset(k.action for k in keys.KEYS)


class ViewActions(ActionFlows):
    sort: Sort
    tree_mode: bool
    filter_text: str
    collapsed: set[str]
    details_shown: bool
    #: Whether the last snapshot carried CPU times (the CPU column and `P` need them).
    cpu_available: bool

    def redraw_details(self, *, fetch: bool) -> None:
        raise NotImplementedError

    def redraw_header(self) -> None:
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _MAIN_ACTIONS and self.frozen:
            return False
        if action == "clear_filter":
            return bool(self.filter_text)  # Esc is shown in the footer only while one is on
        return True

    # -- sorting -------------------------------------------------------------------
    def sort_columns(self) -> tuple[str, ...]:
        return tuple(c for c in SORT_ORDER if c != "cpu" or self.cpu_available)

    def set_sort(self, column: str, *, inverted: bool = False) -> None:
        self.sort = Sort(column, inverted)
        self.refresh_view()

    def _step_sort(self, step: int) -> None:
        columns = self.sort_columns()
        index = columns.index(self.sort.column) if self.sort.column in columns else 0
        self.set_sort(columns[(index + step) % len(columns)])

    def action_sort_next(self) -> None:
        self._step_sort(1)

    def action_sort_prev(self) -> None:
        self._step_sort(-1)

    def action_sort_cpu(self) -> None:
        if not self.cpu_available:
            self.notify("no CPU times in this scan: CPU % cannot be shown", timeout=3)
            return
        self.set_sort("cpu")

    def action_sort_rss(self) -> None:
        self.set_sort("rss")

    def action_sort_invert(self) -> None:
        self.set_sort(self.sort.column, inverted=not self.sort.inverted)

    def sort_by_header(self, column: str) -> None:
        """A click on a header: sort by it, or invert if it is the sort column already."""
        if column == self.sort.column:
            self.action_sort_invert()
        else:
            self.set_sort(column)

    # -- filter --------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one(FilterRow).add_class("-shown")
        self.query_one(FilterBar).focus()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refresh_view()

    def close_filter(self) -> None:
        """Back to the table; the filter line stays while a filter is on."""
        self.query_one(FilterRow).set_class(bool(self.filter_text), "-shown")
        self.query_one(ProcessTable).focus()

    def action_clear_filter(self) -> None:
        bar = self.query_one(FilterBar)
        if bar.value:
            bar.value = ""  # its Changed message clears the filter
        self.filter_text = ""
        self.close_filter()
        self.refresh_view()

    # -- tags ----------------------------------------------------------------------
    def action_tag(self) -> None:
        proc = self.selected_process()
        if proc is None:
            self.notify("Space tags a process; c tags a whole group", timeout=3)
            return
        if proc.pid in self.tagged:
            del self.tagged[proc.pid]
        else:
            self.tagged[proc.pid] = proc
        self.refresh_view()
        self.query_one(ProcessTable).action_cursor_down()

    def action_tag_subtree(self) -> None:
        if self.snapshot is None:
            return
        table = self.query_one(ProcessTable)
        row = table.row_for(table.cursor_key)
        if row is None:
            return
        procs: list[ProcessInfo]
        if row.proc is None:
            found = (self.snapshot.get(pid) for pid in row.members)
            procs = [p for p in found if p is not None]
        else:
            procs = descendants(self.snapshot, row.proc.pid)
        if all(p.pid in self.tagged for p in procs):
            for p in procs:
                self.tagged.pop(p.pid, None)
        else:
            self.tagged.update((p.pid, p) for p in procs)
        self.refresh_view()

    def action_untag_all(self) -> None:
        if not self.tagged:
            self.notify("nothing is tagged", timeout=2)
            return
        self.tagged.clear()
        self.refresh_view()

    # -- view ----------------------------------------------------------------------
    def action_toggle_tree(self) -> None:
        self.tree_mode = not self.tree_mode
        self.refresh_view()

    def action_details(self) -> None:
        self.details_shown = not self.details_shown
        self.query_one("#details").set_class(self.details_shown, "-shown")
        self.redraw_details(fetch=True)

    def fold(self, key: str, fold: bool) -> None:
        if fold:
            self.collapsed.add(key)
        else:
            self.collapsed.discard(key)
        self.refresh_view()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.redraw_header()
        if not self.paused:
            self.request_scan()

    def action_faster(self) -> None:
        self._set_interval(max((i for i in INTERVALS if i < self.interval_s), default=None))

    def action_slower(self) -> None:
        self._set_interval(min((i for i in INTERVALS if i > self.interval_s), default=None))

    def _set_interval(self, value: float | None) -> None:
        if value is None:
            self.notify(f"refresh stays at {self.interval_s:g} s (limit)", timeout=2)
            return
        self.interval_s = value
        self.redraw_header()
        if not self._scanning:
            self._schedule()

    def action_help(self) -> None:
        from hermes_top.tui.screens.help import HelpScreen  # not needed for the first paint

        self.push_screen(HelpScreen(), callback=lambda _: self._apply_pending())
