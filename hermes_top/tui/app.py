"""hermes-top's terminal UI: a live view over any CoreAPI (the real Core or a fake).

Data flow: a thread worker calls ``core.scan()``; the result is applied on the UI
thread (history, tags, table diff, header); only then is the next scan scheduled
with ``set_timer``, so a slow scan never piles up behind itself. Every signal,
reap and restart goes through a ConfirmDialog, runs in a thread worker, and comes
back as a notification that says what happened to each target.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import ClassVar, Literal

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static

from hermes_top.core.api import CoreAPI, ReadOnlyError
from hermes_top.core.model import (
    ENDED_OUTCOMES,
    ActionResult,
    FdBreakdown,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Role,
    Snapshot,
)
from hermes_top.tui import keys
from hermes_top.tui.first_scan import scan_in_background
from hermes_top.tui.history import FdHistory
from hermes_top.tui.screens.confirm import ConfirmDialog
from hermes_top.tui.screens.help import HelpScreen
from hermes_top.tui.styles import use_monochrome
from hermes_top.tui.tree import (
    ORPHAN_GROUP_KEY,
    SORT_ORDER,
    build_rows,
    descendants,
    orphan_group,
)
from hermes_top.tui.widgets.details import DetailsPane, render_details
from hermes_top.tui.widgets.filter_bar import FilterBar
from hermes_top.tui.widgets.header import HeaderStrip, Status
from hermes_top.tui.widgets.process_table import ProcessTable

Severity = Literal["information", "warning", "error"]

INTERVALS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
#: Actions that need the main screen (blocked while a dialog or the palette is open).
_MAIN_ACTIONS = frozenset(k.action for k in keys.KEYS) - {"quit"}
#: How many per-process failures a notification lists before "… and N more".
_MAX_DETAIL_LINES = 6

EMPTY_TEXT = """No Hermes processes found.

Looked for, among the processes visible to you:
  • dashboards  hermes dashboard|serve, python -m hermes_cli.main dashboard
  • chat tabs   node … tui_dist/entry.js (or ui-tui/dist/entry.js)
  • tab entry   python -m tui_gateway.entry
  • workers     python -m tui_gateway.slash_worker --session-key …
  • services    hermes gateway run, and any other hermes CLI

Nothing to reap. To see what a leaking dashboard looks like, run:

  hermes-top demo
"""


class HermesTopApp(App[None]):
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
        self.grace_s = grace_s
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.tree_mode = True
        self.sort = "pid"
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
        yield Static(EMPTY_TEXT, id="empty")
        yield DetailsPane(id="details")
        yield FilterBar(placeholder="filter: pid, role, state, user, session, command", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FilterBar).cursor_blink = self.cursor_blink
        self.query_one(ProcessTable).set_width(self.size.width)
        self.query_one("#empty").display = False
        self._redraw_header()
        self.request_scan()

    def on_resize(self) -> None:
        self.query_one(ProcessTable).set_width(self.size.width)
        self._redraw_header()

    # -- scanning ----------------------------------------------------------------
    @property
    def frozen(self) -> bool:
        """True while a dialog (or the palette, or help) is open: the list must not move."""
        return len(self.screen_stack) > 1

    def request_scan(self) -> None:
        """Scan now (in a thread) unless one is already running."""
        if self._scanning:
            return
        self._cancel_timer()
        self._scanning = True
        self._scan_worker()

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan_worker(self) -> None:
        early, self._first_scan = self._first_scan, None
        try:
            snapshot = early.result() if early is not None else self.core.scan()
        except Exception as err:  # a failed scan must be reported, never kill the UI
            self._from_thread(self._scan_failed, err)
            return
        self._from_thread(self._scan_done, snapshot)

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:
            pass  # the app is shutting down

    def _scan_done(self, snapshot: Snapshot) -> None:
        self._scanning = False
        if self.frozen:
            self._pending = snapshot
        else:
            self.apply_snapshot(snapshot)
        self._schedule()

    def _scan_failed(self, err: Exception) -> None:
        self._scanning = False
        self.notify(f"scan failed: {err}", title="scan", severity="error", markup=False)
        self._schedule()

    def _schedule(self) -> None:
        self._cancel_timer()
        self._timer = self.set_timer(self.interval_s, self._tick)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        if self.paused or self.frozen:
            self._schedule()
        else:
            self.request_scan()

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Show ``snapshot``: record FD history, drop tags whose process changed, redraw."""
        self.snapshot = snapshot
        self.scan_count += 1
        now = self.clock()
        for dash in snapshot.dashboards:
            self.history.add(dash.pid, now, dash.num_fds)
        self.history.forget_except(d.pid for d in snapshot.dashboards)
        for pid, tagged in list(self.tagged.items()):
            current = snapshot.get(pid)
            if current is None or current.identity != tagged.identity:
                del self.tagged[pid]
        self._breakdown = None
        self.refresh_view()

    def _apply_pending(self) -> None:
        if self._pending is not None and not self.frozen:
            pending, self._pending = self._pending, None
            self.apply_snapshot(pending)

    # -- drawing -----------------------------------------------------------------
    def refresh_view(self) -> None:
        table = self.query_one(ProcessTable)
        empty = self.snapshot is not None and not self.snapshot.processes
        table.display = not empty
        self.query_one("#empty").display = empty
        if self.snapshot is not None:
            rows = build_rows(
                self.snapshot,
                tree=self.tree_mode,
                sort=self.sort,
                collapsed=self.collapsed,
                filter_text=self.filter_text,
            )
            table.show_rows(rows, self.tagged.keys(), None)
        self._redraw_header()
        self._redraw_details(fetch=True)

    def _redraw_header(self) -> None:
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
        strip.show(self.title, self.snapshot, self.history, status, self.size.width)

    def selected_process(self) -> ProcessInfo | None:
        row = self.query_one(ProcessTable).row_for(self.query_one(ProcessTable).cursor_key)
        return row.proc if row is not None else None

    def _redraw_details(self, *, fetch: bool) -> None:
        if not self.details_shown:
            return
        proc = self.selected_process()
        if (
            proc is not None
            and fetch
            and (self._breakdown is None or self._breakdown.pid != proc.pid)
        ):
            self._fetch_breakdown(proc.pid)
        group = ""
        if proc is None and self.snapshot is not None:
            group = (
                f"orphans (no host): {len(orphan_group(self.snapshot))} processes. R reaps them."
            )
        pane = self.query_one(DetailsPane)
        pane.show(render_details(proc, self.snapshot, self._breakdown, group_text=group))

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
            self._redraw_details(fetch=False)

    # -- table events ------------------------------------------------------------
    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._redraw_details(fetch=True)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value == ORPHAN_GROUP_KEY:
            self._fold(ORPHAN_GROUP_KEY, ORPHAN_GROUP_KEY not in self.collapsed)
        else:
            self.action_details()

    @on(ProcessTable.FoldRequested)
    def _fold_requested(self, event: ProcessTable.FoldRequested) -> None:
        self._fold(event.key, event.fold)

    def _fold(self, key: str, fold: bool) -> None:
        if fold:
            self.collapsed.add(key)
        else:
            self.collapsed.discard(key)
        self.refresh_view()

    @on(FilterBar.Changed)
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        self.filter_text = event.value
        self.refresh_view()

    @on(FilterBar.Submitted)
    def _filter_submitted(self) -> None:
        self._close_filter()

    @on(FilterBar.Cleared)
    def _filter_cleared(self) -> None:
        self.filter_text = ""
        self._close_filter()
        self.refresh_view()

    def _close_filter(self) -> None:
        self.query_one(FilterBar).remove_class("-shown")
        self.query_one(ProcessTable).focus()

    # -- actions: view -----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in _MAIN_ACTIONS and self.frozen)

    def action_details(self) -> None:
        self.details_shown = not self.details_shown
        self.query_one(DetailsPane).set_class(self.details_shown, "-shown")
        self._redraw_details(fetch=True)

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.add_class("-shown")
        bar.focus()

    def action_toggle_tree(self) -> None:
        self.tree_mode = not self.tree_mode
        self.refresh_view()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_ORDER[(SORT_ORDER.index(self.sort) + 1) % len(SORT_ORDER)]
        self.refresh_view()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._redraw_header()
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
        self._redraw_header()
        if not self._scanning:
            self._schedule()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(), callback=lambda _: self._apply_pending())

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
        if row.proc is None:
            procs = orphan_group(self.snapshot)
        else:
            procs = descendants(self.snapshot, row.proc.pid)
        if all(p.pid in self.tagged for p in procs):
            for p in procs:
                self.tagged.pop(p.pid, None)
        else:
            self.tagged.update((p.pid, p) for p in procs)
        self.refresh_view()

    # -- actions: destructive ----------------------------------------------------
    def _refuse_readonly(self) -> bool:
        if self.readonly:
            self.notify(
                "read-only: nothing was sent (started with --readonly)",
                title="read-only",
                severity="warning",
            )
        return self.readonly

    def signal_targets(self) -> list[ProcessInfo]:
        """Tagged processes (by pid), else the one under the cursor."""
        if self.tagged:
            return [self.tagged[pid] for pid in sorted(self.tagged)]
        proc = self.selected_process()
        return [proc] if proc is not None else []

    def action_sigterm(self) -> None:
        self._ask_signal(signal.SIGTERM)

    def action_sigkill(self) -> None:
        self._ask_signal(signal.SIGKILL)

    def _ask_signal(self, sig: signal.Signals) -> None:
        if self._refuse_readonly():
            return
        targets = self.signal_targets()
        if not targets:
            self.notify("Select a process, or tag some with Space / c", severity="warning")
            return
        dialog = ConfirmDialog(f"Send {sig.name}", sig.name, targets)
        self.push_screen(dialog, callback=partial(self._signal_confirmed, sig))

    def _signal_confirmed(
        self, sig: signal.Signals, targets: tuple[ProcessInfo, ...] | None
    ) -> None:
        if targets:
            self._run_signal(targets, sig)
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_signal(self, targets: tuple[ProcessInfo, ...], sig: signal.Signals) -> None:
        try:
            results = self.core.send_signal(targets, int(sig))
        except Exception as err:
            self._from_thread(self._action_failed, sig.name, err)
            return
        self._from_thread(self._report, sig.name, results, targets)

    def action_reap(self) -> None:
        if self._refuse_readonly() or self.snapshot is None:
            return
        snapshot = self.snapshot

        def planner(include_stale: bool) -> ReapPlan:
            return self.core.plan_reap(snapshot, include_stale=include_stale)

        dialog = ConfirmDialog(
            "Reap",
            "Reap",
            (),
            note=f"SIGTERM all, wait up to {self.grace_s:g} s, then SIGKILL the survivors.",
            planner=planner,
        )
        self.push_screen(dialog, callback=self._reap_confirmed)

    def _reap_confirmed(self, targets: tuple[ProcessInfo, ...] | None) -> None:
        if targets:
            self._run_reap(targets)
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_reap(self, targets: tuple[ProcessInfo, ...]) -> None:
        try:
            report = self.core.reap(targets, grace_s=self.grace_s)
        except Exception as err:
            self._from_thread(self._action_failed, "reap", err)
            return
        self._from_thread(self._report, "reap", report.results, targets)

    def action_restart(self) -> None:
        if self._refuse_readonly():
            return
        dashboards = (
            [p for p in self.snapshot.processes if p.role == Role.DASHBOARD]
            if self.snapshot
            else []
        )
        dialog = ConfirmDialog(
            "Restart the dashboard agent",
            "Restart",
            dashboards,
            note="Restarts the launchd agent or systemd user unit; open chats reconnect.",
            allow_empty=True,
        )
        self.push_screen(dialog, callback=self._restart_confirmed)

    def _restart_confirmed(self, targets: tuple[ProcessInfo, ...] | None) -> None:
        if targets is not None:
            self._run_restart()
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_restart(self) -> None:
        try:
            outcome = self.core.restart_dashboard()
        except Exception as err:
            self._from_thread(self._action_failed, "restart", err)
            return

        def report() -> None:
            text = outcome.summary + (f"\n{outcome.detail}" if outcome.detail else "")
            severity: Severity = "information" if outcome.ok else "error"
            self.notify(text, title="restart", severity=severity, markup=False, timeout=8)
            self.request_scan()

        self._from_thread(report)

    def _action_failed(self, what: str, err: Exception) -> None:
        if isinstance(err, ReadOnlyError):
            self.notify(f"read-only: {err}", title=what, severity="warning", markup=False)
        else:
            self.notify(f"{what} failed: {err}", title=what, severity="error", markup=False)
        self.request_scan()

    def _report(
        self, what: str, results: Sequence[ActionResult], targets: Iterable[ProcessInfo]
    ) -> None:
        for t in targets:
            self.tagged.pop(t.pid, None)
        text, severity = describe_results(what, results)
        timeout = 5.0 if severity == "information" else 12.0
        self.notify(text, title=what, severity=severity, markup=False, timeout=timeout)
        self.request_scan()

    # -- command palette ---------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for k in keys.KEYS:
            if k.action in ("quit", "fold"):
                continue
            label = f"{k.label} ({k.shown})"
            yield SystemCommand(label, k.help, partial(self.run_action, k.action))


def describe_results(what: str, results: Sequence[ActionResult]) -> tuple[str, Severity]:
    """(notification text, severity): counts by outcome, then each failure with its reason."""
    if not results:
        return f"{what}: nothing to do", "information"
    counts = Counter(r.outcome for r in results)
    lines = [f"{what}: " + ", ".join(f"{n} {o.value}" for o, n in counts.most_common())]
    ok = ENDED_OUTCOMES | {Outcome.SIGNALLED, Outcome.PLANNED}
    failures = [r for r in results if r.outcome not in ok]
    for r in failures[:_MAX_DETAIL_LINES]:
        lines.append(f"{r.pid} {r.role.value}: {r.outcome.value} — {r.detail}")
    if len(failures) > _MAX_DETAIL_LINES:
        lines.append(f"… and {len(failures) - _MAX_DETAIL_LINES} more")
    if not failures:
        return "\n".join(lines), "information"
    return "\n".join(lines), "error" if len(failures) == len(results) else "warning"


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
    HermesTopApp(
        core,
        interval_s=interval_s,
        readonly=readonly,
        title=title,
        clock=clock,
        first_scan=first_scan,
    ).run()
