"""The refresh loop of the TUI: scan in a thread, apply on the UI thread, and
schedule the next scan only after the last one finished (a slow scan never
piles up behind itself). The list stays frozen while a dialog is open: a scan
that finishes meanwhile is kept and applied when the dialog closes."""

from __future__ import annotations

import gc
from collections.abc import Callable
from concurrent.futures import Future

from textual import work
from textual.app import App
from textual.timer import Timer

from hermes_top.core.engine import CoreAPI
from hermes_top.core.model import ProcessInfo, Snapshot
from hermes_top.view.history import FdHistory

#: Allocations between young-generation collections once the first snapshot is
#: shown (Python's default is 700: a 1 s tick at 1,300 processes made ~75 a
#: minute, ~0.5 ms each, and a full collection walked the app's 70,000 objects).
GC_YOUNG_THRESHOLD = 20_000


class RefreshLoop(App[None]):
    """Scanning state and its loop; the app draws in ``refresh_view``."""

    core: CoreAPI
    interval_s: float
    paused: bool
    clock: Callable[[], float]
    history: FdHistory
    snapshot: Snapshot | None
    scan_count: int
    tagged: dict[int, ProcessInfo]
    _pending: Snapshot | None
    _scanning: bool
    _timer: Timer | None
    _first_scan: Future[Snapshot] | None
    #: Set by run_app (a real run, not a test's app): see settle_collector.
    settles_collector = False

    def refresh_view(self) -> None:
        raise NotImplementedError

    def forget_breakdown(self) -> None:
        raise NotImplementedError

    def sample(self, snapshot: Snapshot) -> None:
        """Take what needs successive snapshots (CPU %) from ``snapshot``."""
        raise NotImplementedError

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
        """Show ``snapshot``: record FD history and CPU times, drop tags whose process
        changed, redraw."""
        self.snapshot = snapshot
        self.scan_count += 1
        now = self.clock()
        for dash in snapshot.dashboards:
            self.history.add(dash.pid, now, dash.num_fds)
        self.history.forget_except(d.pid for d in snapshot.dashboards)
        self.sample(snapshot)
        for pid, tagged in list(self.tagged.items()):
            current = snapshot.get(pid)
            if current is None or current.identity != tagged.identity:
                del self.tagged[pid]
        self.forget_breakdown()
        self.refresh_view()
        if self.scan_count == 1 and self.settles_collector:
            settle_collector()

    def _apply_pending(self) -> None:
        if self._pending is not None and not self.frozen:
            pending, self._pending = self._pending, None
            self.apply_snapshot(pending)


def settle_collector() -> None:
    """After the first paint: what exists now (Textual, the app, its widgets)
    lives as long as the app, so the cyclic collector stops walking it
    (``gc.freeze``), and young objects are collected in larger batches. Memory
    is still freed by reference counting as it is now; only cycles wait longer.
    Idle cost at 1,300 processes: ~1.8 ms of collection a second -> ~0.5."""
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
