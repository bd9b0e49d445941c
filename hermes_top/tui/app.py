"""hermes-top's terminal UI: a live view over any CoreAPI (the real Core or a fake).

Data flow: a thread worker calls ``core.scan()``; the result is applied on the UI
thread (history, CPU %, tags, table diff, header); only then is the next scan
scheduled with ``set_timer``, so a slow scan never piles up behind itself. Every
signal, reap and recovery goes through a dialog, runs in a thread worker, and
comes back as a notification that says what happened to each target.

The modules: refresh.py (the scan loop), actions.py (the destructive flows),
navigation.py (every other key), keys.py (the key table), widgets/ and screens/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from functools import partial
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.geometry import Size
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from hermes_top.core.engine import CoreAPI
from hermes_top.core.model import FdBreakdown, ProcessInfo, Snapshot
from hermes_top.tui import keys
from hermes_top.tui.first_scan import scan_in_background
from hermes_top.tui.navigation import ViewActions
from hermes_top.tui.styles import use_monochrome
from hermes_top.tui.widgets.details import DetailsPane, group_details, render_details
from hermes_top.tui.widgets.filter_bar import FilterBar, FilterRow
from hermes_top.tui.widgets.header import HeaderStrip, Status
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.format import NOTHING_FOUND
from hermes_top.view.history import CpuSampler, FdHistory
from hermes_top.view.tree import Sort, build_rows


class HermesTopApp(ViewActions):
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(keys.bindings())
    #: Tests turn this off so the filter input's caret never blinks in a frame.
    cursor_blink: bool = True

    def __init__(
        self,
        core: CoreAPI,
        *,
        interval_s: float = 2.0,
        readonly: bool = False,
        title: str = "hermes-top",
        clock: Callable[[], float] = time.time,
        history: FdHistory | None = None,
        grace_s: float = 3.0,
        first_scan: Future[Snapshot] | None = None,
    ) -> None:
        super().__init__()
        use_monochrome(self.no_color)  # Textual sets no_color from NO_COLOR
        self.core = core
        self.title = title
        self.interval_s = interval_s
        #: Enforced here at the key layer; the core refuses again on its own.
        self.readonly = readonly or core.readonly
        self.clock = clock
        self.history = history if history is not None else FdHistory()
        self.cpu = CpuSampler()
        self.cpu_available = False
        self.grace_s = grace_s
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.tree_mode = True
        self.sort = Sort()
        self.filter_text = ""
        self.collapsed: set[str] = set()
        #: Tagged processes as they were when tagged: a signal goes to these identities.
        self.tagged: dict[int, ProcessInfo] = {}
        self.details_shown = False
        self.scan_count = 0
        self._breakdown: FdBreakdown | None = None
        self._pending: Snapshot | None = None
        self._scanning = False
        self._timer: Timer | None = None
        #: A scan already running (see first_scan.py): the first refresh waits for it.
        self._first_scan = first_scan

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield HeaderStrip(id="strip")
        yield ProcessTable(id="procs")
        yield Static(NOTHING_FOUND, id="empty", markup=False)
        yield DetailsPane(id="details")
        yield FilterRow(id="filter-row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FilterBar).cursor_blink = self.cursor_blink
        self._configure_table()
        self.query_one("#empty").display = False
        self.redraw_header()
        self.request_scan()

    def on_resize(self, event: events.Resize) -> None:
        self._configure_table(event.size.width)
        self.redraw_header(event.size)

    def _configure_table(self, width: int | None = None) -> None:
        self.query_one(ProcessTable).configure(
            width or self.size.width, cpu=self.cpu_available, sort=self.sort
        )

    # -- drawing -----------------------------------------------------------------
    def forget_breakdown(self) -> None:
        self._breakdown = None

    def sample(self, snapshot: Snapshot) -> None:
        self.cpu.update(snapshot)
        self.cpu_available = self.cpu.available
        if self.sort.column == "cpu" and not self.cpu_available:
            self.sort = Sort()

    def refresh_view(self) -> None:
        table = self.query_one(ProcessTable)
        empty = self.snapshot is not None and not self.snapshot.processes
        table.display = not empty
        self.query_one("#empty").display = empty
        self._configure_table()
        if self.snapshot is not None:
            rows = build_rows(
                self.snapshot,
                tree=self.tree_mode,
                sort=self.sort,
                collapsed=self.collapsed,
                filter_text=self.filter_text,
                cpu=self.cpu.percent,
            )
            table.show_rows(rows, self.tagged.keys(), self.cpu.percent, None)
        self.redraw_header()
        self.redraw_details(fetch=True)

    def redraw_header(self, size: Size | None = None) -> None:
        status = Status(
            interval_s=self.interval_s,
            paused=self.paused,
            readonly=self.readonly,
            tree=self.tree_mode,
            sort=self.sort,
            filter_text=self.filter_text,
            tagged=len(self.tagged),
        )
        strip = self.query_one(HeaderStrip)
        size = size or self.size
        strip.show(self.title, self.snapshot, self.history, status, (size.width, size.height))

    def selected_process(self) -> ProcessInfo | None:
        table = self.query_one(ProcessTable)
        row = table.row_for(table.cursor_key)
        return row.proc if row is not None else None

    def redraw_details(self, *, fetch: bool) -> None:
        if not self.details_shown:
            return
        table = self.query_one(ProcessTable)
        row = table.row_for(table.cursor_key)
        proc = row.proc if row is not None else None
        if (
            proc is not None
            and fetch
            and (self._breakdown is None or self._breakdown.pid != proc.pid)
        ):
            self._fetch_breakdown(proc.pid)
        pane = self.query_one(DetailsPane)
        if proc is None and row is not None and row.group is not None and self.snapshot:
            pane.show(group_details(self.snapshot, row.group, row.members))
        else:
            pane.show(render_details(proc, self.snapshot, self._breakdown))

    @work(thread=True, exclusive=True, group="fds", exit_on_error=False)
    def _fetch_breakdown(self, pid: int) -> None:
        try:
            breakdown = self.core.fd_breakdown(pid)
        except Exception as err:
            breakdown = FdBreakdown(pid, None, {}, (), "none", error=str(err))
        self._from_thread(self._breakdown_done, breakdown)

    def _breakdown_done(self, breakdown: FdBreakdown) -> None:
        proc = self.selected_process()
        if proc is not None and proc.pid == breakdown.pid:
            self._breakdown = breakdown
            self.redraw_details(fetch=False)

    # -- events ------------------------------------------------------------------
    @on(ProcessTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.redraw_details(fetch=True)

    @on(ProcessTable.RowSelected)
    def _row_selected(self, event: ProcessTable.RowSelected) -> None:
        row = self.query_one(ProcessTable).row_for(event.key)
        if row is not None and row.proc is None:
            self.fold(row.key, row.key not in self.collapsed)
        else:
            self.action_details()

    @on(ProcessTable.FoldRequested)
    def _fold_requested(self, event: ProcessTable.FoldRequested) -> None:
        self.fold(event.key, event.fold)

    @on(ProcessTable.SortRequested)
    def _sort_requested(self, event: ProcessTable.SortRequested) -> None:
        self.sort_by_header(event.column)

    @on(FilterBar.Changed)
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        self.set_filter(event.value)

    @on(FilterBar.Submitted)
    def _filter_submitted(self) -> None:
        self.close_filter()

    @on(FilterBar.Cleared)
    def _filter_cleared(self) -> None:
        self.action_clear_filter()

    # -- command palette ---------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for k in keys.KEYS:
            if k.action in ("quit", "fold") or not k.palette:
                continue
            label = f"{k.label} ({k.shown})"
            yield SystemCommand(label, k.help, partial(self.run_action, k.action))


def run_app(
    core: CoreAPI,
    *,
    interval_s: float = 2.0,
    readonly: bool = False,
    title: str = "hermes-top",
    clock: Callable[[], float] = time.time,
    first_scan: Future[Snapshot] | None = None,
) -> None:
    """Run the TUI over ``core`` until the user quits.

    The first scan starts here (unless ``first_scan`` is one already running), in a
    thread, so it overlaps the UI's start instead of following it.
    """
    if first_scan is None:
        first_scan = scan_in_background(core)
    app = HermesTopApp(
        core,
        interval_s=interval_s,
        readonly=readonly,
        title=title,
        clock=clock,
        first_scan=first_scan,
    )
    app.settles_collector = True  # this process is the app's: see refresh.settle_collector
    app.run()
