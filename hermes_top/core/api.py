"""The one interface the TUI (and tests' fakes) program against.

``hermes_top.core.engine.Core`` implements it over real processes; the TUI's
snapshot tests implement it over canned data. The CLI calls the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import (
    ActionResult,
    FdBreakdown,
    ProcessInfo,
    ReapPlan,
    ReapReport,
    ServiceOutcome,
    Snapshot,
)


class ReadOnlyError(HermesTopError):
    """Raised when a signal or restart is asked of a read-only core."""

    def __init__(self, action: str) -> None:
        super().__init__(f"read-only mode: refusing to {action}", exit_code=2)


class CoreAPI(Protocol):
    #: When True every signal and restart raises ReadOnlyError.
    readonly: bool

    def scan(self) -> Snapshot:
        """One full scan: discover, classify, count FDs and limits."""
        ...

    def fd_breakdown(self, pid: int) -> FdBreakdown:
        """FD kinds and top targets of one process (on demand: costs a readdir)."""
        ...

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        """Orphans (and stale workers if asked) older than ``min_age_s``."""
        ...

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> tuple[ActionResult, ...]:
        """Send one signal to each pinned identity; never to a changed process."""
        ...

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ReapReport:
        """Bulk reap: TERM all, wait up to grace together, KILL survivors."""
        ...

    def restart_dashboard(self) -> ServiceOutcome:
        """Restart the dashboard's launchd agent or systemd user unit."""
        ...
