"""``Core``: the object the CLI and the TUI both talk to, and ``CoreAPI``, the
protocol it implements (the TUI's tests implement it over canned data)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from hermes_top.core.dashboards import SLOW_FACTS_S
from hermes_top.core.errors import ReadOnlyError, ScanError
from hermes_top.core.escape import escape_control
from hermes_top.core.model import (
    ActionReport,
    FdBreakdown,
    ProcessInfo,
    ReapPlan,
    Snapshot,
)
from hermes_top.core.pinned import PinRegistry
from hermes_top.core.platform import Platform, current_platform
from hermes_top.core.policy import SafetyPolicy, plan_reap
from hermes_top.core.policy import dry_run as dry_run_report
from hermes_top.core.procfs import ProcUnreadable
from hermes_top.core.scan import ScanCache, build_snapshot

if TYPE_CHECKING:
    # Signalling and recover code is imported when first used: `hermes-top list`
    # never needs it.
    from hermes_top.core.journal import Journal
    from hermes_top.core.reap import Signaller
    from hermes_top.core.recovery import RecoverPlan, RecoverReport, Supervisor

#: How many file targets the FD breakdown lists.
TOP_TARGETS = 8


def classify_fd_target(target: str) -> str:
    """pipe / socket / tty / file / other, from a readlink target."""
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("socket:"):
        return "socket"
    if target.startswith(("/dev/pts/", "/dev/tty", "/dev/ptmx")):
        return "tty"
    if target.startswith("/"):
        return "file"
    return "other"


class CoreAPI(Protocol):
    #: When True every signal and restart raises ReadOnlyError.
    readonly: bool

    def scan(self, *, fresh: bool = False) -> Snapshot:
        """Discover, classify, count FDs and limits. An incremental core (the TUI)
        reuses what cannot change a verdict between its full passes; ``fresh``
        forces a full pass with nothing reused: what a plan is made from."""
        ...

    def fd_breakdown(self, pid: int) -> FdBreakdown:
        """FD kinds and top targets of one process (on demand: costs a readdir)."""
        ...

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        """Orphans (and stale workers if asked) older than ``min_age_s``."""
        ...

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> ActionReport:
        """Send one signal to each pinned identity; never to a changed process."""
        ...

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ActionReport:
        """Bulk reap: TERM all, wait up to grace together, KILL survivors."""
        ...

    def plan_recover(
        self, snapshot: Snapshot, dashboard_pid: int | None = None, *, restart_only: bool = False
    ) -> RecoverPlan:
        """What recovering each dashboard in trouble (or the one given) would do."""
        ...

    def recover(
        self, plan: RecoverPlan, *, grace_s: float = 3.0, wait_s: float = 30.0
    ) -> RecoverReport:
        """Reap, restart through whatever runs it, wait until it answers, reap leftovers."""
        ...


class Core:
    def __init__(
        self,
        *,
        readonly: bool = False,
        allow_other_users: bool = False,
        scope: Callable[[ProcessInfo], bool] | None = None,
        platform: Platform | None = None,
        journal: Journal | None = None,
        clock: Callable[[], float] = time.time,
        supervisor: Supervisor | None = None,
        pin: bool = True,
        incremental: bool = False,
    ) -> None:
        self.readonly = readonly
        self.allow_other_users = allow_other_users
        self.scope = scope
        self.platform = platform or current_platform()
        self._journal = journal
        self.clock = clock
        #: Restarts a dashboard through whatever runs it (hermes_top/service).
        self.supervisor = supervisor
        # pin=False: a read-only listing needs no pidfds (signals then fall back
        # to pinning at signal time, verified by create time, uid and argv).
        pins = PinRegistry(self.platform.open_pidfd, self.platform.fd_headroom) if pin else None
        # incremental=True (the TUI): between full passes only new PIDs and the
        # Hermes processes and their ancestors are read (see ScanCache.next_table).
        self._cache = ScanCache(pins=pins, incremental=incremental)
        if incremental:
            self._cache.dashboards.reuse_s = SLOW_FACTS_S
        self._scan_lock = threading.Lock()

    def close(self) -> None:
        """Release the pidfds pinned by scans and the files the table keeps open."""
        if self._cache.pins is not None:
            self._cache.pins.close()
        if self._cache.reader is not None:
            self._cache.reader.close()

    # -- reading -------------------------------------------------------------

    def scan(self, *, fresh: bool = False) -> Snapshot:
        # One scan at a time: the TUI's refresh thread and an action's planning
        # thread share the cache.
        with self._scan_lock:
            if not fresh:
                return self._scan()
            # Never plan from a cached view: every process and every dashboard's
            # evidence read now, as the CLI does.
            self._cache.dashboards.evidence.forget_answers()
            if not self._cache.incremental:
                return self._scan()
            reuse_s = self._cache.dashboards.reuse_s
            self._cache.incremental = False
            self._cache.dashboards.reuse_s = 0.0
            try:
                return self._scan()
            finally:
                self._cache.incremental = True
                self._cache.dashboards.reuse_s = reuse_s

    def _scan(self) -> Snapshot:
        try:
            return build_snapshot(self.platform, self._cache, now=self.clock, scope=self.scope)
        except ProcUnreadable as err:
            # A partial table could hide a dashboard and make its workers look orphaned.
            raise ScanError(
                f"cannot read the process table: {err.strerror or err}; "
                "nothing was classified or signalled"
            ) from err

    def fd_breakdown(self, pid: int) -> FdBreakdown:
        try:
            targets, source = self.platform.fd_targets(pid)
        except PermissionError:
            return FdBreakdown(pid, None, {}, (), "", f"access denied to the FDs of PID {pid}")
        except Exception as err:  # psutil.NoSuchProcess, FileNotFoundError ...
            return FdBreakdown(pid, None, {}, (), "", f"cannot list FDs of PID {pid}: {err}")
        kinds = Counter(classify_fd_target(t) for t in targets.values())
        # File names are chosen by whoever created the files: escape before showing.
        files = Counter(
            escape_control(t) for t in targets.values() if classify_fd_target(t) == "file"
        )
        total, _ = self.platform.num_fds(pid)
        return FdBreakdown(
            pid=pid,
            total=total if total is not None else len(targets),
            counts=dict(kinds),
            top_targets=tuple(files.most_common(TOP_TARGETS)),
            source=source,
        )

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        return plan_reap(snapshot, self._policy(), include_stale=include_stale, min_age_s=min_age_s)

    # -- acting ----------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            from hermes_top.core.journal import Journal

            self._journal = Journal()
        return self._journal

    def _policy(self) -> SafetyPolicy:
        return SafetyPolicy.current(
            self.platform, allow_other_users=self.allow_other_users, in_scope=self.scope
        )

    def _signaller(self) -> Signaller:
        from hermes_top.core.reap import Signaller

        return Signaller(
            self.platform, self.journal.for_action(), self._policy(), pins=self._cache.pins
        )

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> ActionReport:
        if self.readonly:
            raise ReadOnlyError("send signals")
        return self._signaller().send_signal(targets, sig)

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ActionReport:
        if dry_run:
            return dry_run_report(self._policy(), targets, grace_s)
        if self.readonly:
            raise ReadOnlyError("reap processes")
        return self._signaller().reap(targets, grace_s)

    def record(self, record: dict[str, Any]) -> bool:
        """One journal record outside a signal action (a restart): True once written."""
        journal = self.journal.for_action()
        journal.open()  # raises: no journal, no restart
        try:
            return journal.write(record)
        finally:
            journal.close()

    def plan_recover(
        self, snapshot: Snapshot, dashboard_pid: int | None = None, *, restart_only: bool = False
    ) -> RecoverPlan:
        from hermes_top.core.recovery import plan_recover

        return plan_recover(
            self, snapshot, self.supervisor, dashboard_pid, restart_only=restart_only
        )

    def recover(
        self, plan: RecoverPlan, *, grace_s: float = 3.0, wait_s: float = 30.0
    ) -> RecoverReport:
        if self.readonly:
            raise ReadOnlyError("recover a dashboard")
        from hermes_top.core.recovery import run_recover

        return run_recover(self, plan, self.supervisor, grace_s=grace_s, wait_s=wait_s)
