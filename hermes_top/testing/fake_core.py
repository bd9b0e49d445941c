"""A CoreAPI over canned snapshots, for the TUI's tests, screenshots and demos.

``FakeCore`` never touches a real process: it hands out the snapshots it was
given (one per ``scan()``, the last one repeated) and records every signal,
reap and restart it is asked for, so tests can check exactly which identities
an action reached. The canned data (``demo_snapshot()`` ...) is in demo_data.py.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hermes_top.core.errors import ReadOnlyError
from hermes_top.core.model import (
    ActionReport,
    ActionResult,
    DashboardInfo,
    FdBreakdown,
    Identity,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Snapshot,
)
from hermes_top.core.policy import SafetyPolicy, plan_reap
from hermes_top.core.policy import dry_run as dry_run_report
from hermes_top.core.recovery import (
    RecoverOutcome,
    RecoverPlan,
    RecoverReport,
    RestartKind,
    RestartMethod,
    RestartResult,
    plan_recover,
)

#: The user the fake runs as; ``demo_snapshot`` gives one process to someone else.
DEMO_USER = "alice"
DEMO_UID = 501
OTHER_USER = "bob"
OTHER_UID = 502
#: A fixed instant (2026-05-28 12:00:00 UTC) so frames never depend on the wall clock.
DEMO_NOW = 1_779_969_600.0


@dataclass(frozen=True)
class SignalCall:
    targets: tuple[Identity, ...]
    sig: int


@dataclass(frozen=True)
class ReapCall:
    targets: tuple[Identity, ...]
    grace_s: float
    dry_run: bool


@dataclass
class FakeCore:
    """CoreAPI over ``snapshots``; records what it is asked in ``signal_calls``,
    ``reap_calls`` and ``recover_calls``.

    Processes that a signal or reap ended disappear from later scans, as they would
    for real. ``breakdowns`` maps a pid to the FdBreakdown ``fd_breakdown`` returns.
    """

    snapshots: Sequence[Snapshot]
    readonly: bool = False
    user: str = DEMO_USER
    uid: int = DEMO_UID
    breakdowns: dict[int, FdBreakdown] = field(default_factory=dict)
    signal_calls: list[SignalCall] = field(default_factory=list)
    reap_calls: list[ReapCall] = field(default_factory=list)
    #: How the fake supervisor says each dashboard would restart.
    restart_method: RestartMethod = field(
        default_factory=lambda: RestartMethod(
            RestartKind.RELAUNCH,
            "relaunch the same command in its folder (it was started by hand)",
            "parent: zsh 812",
        )
    )
    recover_calls: list[RecoverPlan] = field(default_factory=list)
    journal: list[dict[str, object]] = field(default_factory=list)
    scans: int = 0
    #: Scans asked for with fresh=True (what a plan must be made from).
    fresh_scans: int = 0
    _ended: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.snapshots:
            raise ValueError("FakeCore needs at least one snapshot")

    # -- reading -----------------------------------------------------------------
    def current(self) -> Snapshot:
        """The snapshot the last scan returned (or the first, before any scan)."""
        index = min(max(self.scans - 1, 0), len(self.snapshots) - 1)
        return self._without_ended(self.snapshots[index])

    def scan(self, *, fresh: bool = False) -> Snapshot:
        with self._lock:
            index = min(self.scans, len(self.snapshots) - 1)
            self.scans += 1
            if fresh:
                self.fresh_scans += 1
            return self._without_ended(self.snapshots[index])

    def fd_breakdown(self, pid: int) -> FdBreakdown:
        if pid in self.breakdowns:
            return self.breakdowns[pid]
        proc = self.current().get(pid)
        if proc is None:
            return FdBreakdown(pid, None, {}, (), "none", error="process is gone")
        if proc.num_fds is None:
            return FdBreakdown(pid, None, {}, (), "none", error=proc.num_fds_error or "unknown")
        return FdBreakdown(pid, proc.num_fds, {"other": proc.num_fds}, (), "fake")

    @property
    def policy(self) -> SafetyPolicy:
        """The product's own safety policy, as this fake user (no fake PID is ours)."""
        return SafetyPolicy(my_pid=-1, my_uid=self.uid, my_ancestors=frozenset())

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        return plan_reap(snapshot, self.policy, include_stale=include_stale, min_age_s=min_age_s)

    # -- writing -----------------------------------------------------------------
    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> ActionReport:
        if self.readonly:
            raise ReadOnlyError("read-only: no signal sent")
        with self._lock:
            self.signal_calls.append(SignalCall(tuple(t.identity for t in targets), sig))
            ended = sig in (signal.SIGTERM, signal.SIGKILL)
            results = tuple(self._act(t, ended_outcome(sig) if ended else None) for t in targets)
        return ActionReport(False, 0.0, 0.0, results)

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ActionReport:
        if self.readonly and not dry_run:
            raise ReadOnlyError("read-only: nothing reaped")
        with self._lock:
            self.reap_calls.append(ReapCall(tuple(t.identity for t in targets), grace_s, dry_run))
            if dry_run:
                # The product's own dry run: the policy's refusal, or "planned".
                return dry_run_report(self.policy, targets, grace_s)
            results = tuple(self._act(t, None, reaping=True) for t in targets)
        return ActionReport(dry_run, grace_s, 0.0, results)

    def plan_recover(
        self, snapshot: Snapshot, dashboard_pid: int | None = None, *, restart_only: bool = False
    ) -> RecoverPlan:
        """The product's own planner, with this fake as the core and a fake supervisor."""
        supervisor = _FakeSupervisor(self.restart_method)
        return plan_recover(self, snapshot, supervisor, dashboard_pid, restart_only=restart_only)

    def record(self, record: dict[str, object]) -> bool:
        with self._lock:
            self.journal.append(record)
        return True

    def recover(
        self, plan: RecoverPlan, *, grace_s: float = 3.0, wait_s: float = 30.0
    ) -> RecoverReport:
        """Records the call; each dashboard "comes back" as PID + 1000 with the
        FDs the plan expected, its leaked processes reaped."""
        if self.readonly:
            raise ReadOnlyError("recover a dashboard")
        with self._lock:
            self.recover_calls.append(plan)
        outcomes = []
        for step in plan.steps:
            reaped = self.reap(step.reap, grace_s=grace_s) if step.reap else None
            restarted = step.restart is not None
            outcomes.append(
                RecoverOutcome(
                    old_pid=step.process.pid,
                    port=step.dashboard.port,
                    new_pid=step.process.pid + 1000 if restarted else step.process.pid,
                    answers=True,
                    fds_before=step.dashboard.num_fds,
                    fds_after=step.expected_fds,
                    soft_limit=step.dashboard.limits.soft,
                    reaped=reaped,
                    leftovers=None,
                    restart=RestartResult(True, "restarted (fake)") if restarted else None,
                    ok=True,
                    detail="recovered",
                )
            )
        return RecoverReport(tuple(outcomes))

    # -- helpers -----------------------------------------------------------------
    def _act(
        self, target: ProcessInfo, outcome: Outcome | None, *, reaping: bool = False
    ) -> ActionResult:
        live = self.current().get(target.pid)

        def result(o: Outcome, detail: str) -> ActionResult:
            return ActionResult(target.pid, target.role, target.state, o, detail)

        refusal = self.policy.refusal(target)
        if refusal is not None:
            return result(*refusal)
        if live is None:
            return result(Outcome.GONE, "already gone")
        if live.identity != target.identity:
            return result(Outcome.CHANGED, "pid now belongs to another process: skipped")
        if reaping:
            # A stopped process ignores SIGTERM: the reap needs SIGKILL.
            outcome = Outcome.KILLED if live.status == "T" else Outcome.TERMINATED
        if outcome is None:
            return result(Outcome.SIGNALLED, "signal delivered")
        self._ended.add(target.pid)
        detail = "needed SIGKILL (stopped)" if outcome == Outcome.KILLED else "exited"
        return result(outcome, detail)

    def _without_ended(self, snapshot: Snapshot) -> Snapshot:
        if not self._ended:
            return snapshot
        procs = tuple(p for p in snapshot.processes if p.pid not in self._ended)
        return replace(snapshot, processes=procs)


def ended_outcome(sig: int) -> Outcome:
    return Outcome.KILLED if sig == signal.SIGKILL else Outcome.TERMINATED


@dataclass(frozen=True)
class _FakeSupervisor:
    how: RestartMethod

    def method(self, dashboard: ProcessInfo, info: DashboardInfo) -> RestartMethod:
        return self.how

    def restart(
        self, dashboard: ProcessInfo, method: RestartMethod, *, grace_s: float
    ) -> RestartResult:
        return RestartResult(True, "restarted (fake)")
