"""The guard: an unattended loop on the same core, problems and policy code as
the CLI (``hermes-top guard``).

Each tick scans with nothing reused (``scan(fresh=True)``), reaps what
``Core.plan_reap`` targets (orphans and high-confidence abandoned workers older
than ``min_age_s``; the Core journals every signal), and warns when a dashboard
passes ``problems.FD_HIGH_RATIO`` of its soft limit or its leak rate says it
reaches the limit within ``trend_horizon_s``. With ``recover`` it runs the
recover flow (``Core.plan_recover`` / ``Core.recover``) at
``problems.FD_CRITICAL_RATIO``.

One bad tick never ends it: every error of a tick is logged and counted, and the
next tick starts afresh. While the journal cannot be written it signals nothing
(it says so once, warns as usual, and says so again when the journal is back).

The leak rate comes from outside (``trends``: the view's ``FdHistory``), so the
core does not depend on the view; anything with ``rate_per_min`` and
``seconds_left`` will do.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hermes_top.core.errors import HermesTopError
from hermes_top.core.escape import escape_control
from hermes_top.core.guard_report import (
    TREND_HORIZON_S,
    Alert,
    AlertKind,
    GuardStats,
    LeakTrend,
    TickReport,
    TrendSource,
    alerts_for,
)
from hermes_top.core.model import (
    ActionReport,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Snapshot,
)
from hermes_top.core.problems import FdLevel, fd_level

if TYPE_CHECKING:
    from hermes_top.core.recovery import RecoverPlan, RecoverReport

__all__ = [
    "TREND_HORIZON_S",
    "Alert",
    "AlertKind",
    "Guard",
    "GuardConfig",
    "GuardCore",
    "GuardStats",
    "LeakTrend",
    "TickReport",
    "TrendSource",
    "alerts_for",
]

#: Defaults of ``hermes-top guard``.
DEFAULT_INTERVAL_S = 30.0
DEFAULT_MIN_AGE_S = 600.0
#: A warning that still holds is repeated after this long (log and notification).
REWARN_S = 3600.0
#: After a recover attempt, the same dashboard is not recovered again for this long.
RECOVER_BACKOFF_S = 600.0


@dataclass(frozen=True)
class GuardConfig:
    interval_s: float = DEFAULT_INTERVAL_S
    min_age_s: float = DEFAULT_MIN_AGE_S
    recover: bool = False
    grace_s: float = 3.0
    recover_wait_s: float = 30.0
    trend_horizon_s: float = TREND_HORIZON_S
    rewarn_s: float = REWARN_S
    recover_backoff_s: float = RECOVER_BACKOFF_S


#: (title, message): a desktop notification (see core/guard_notify.py).
Notify = Callable[[str, str], None]
Log = Callable[[str], None]


class GuardCore(Protocol):
    """What the guard needs of the core (``Core`` provides it)."""

    readonly: bool

    def scan(self, *, fresh: bool = False) -> Snapshot: ...

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan: ...

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ActionReport: ...

    def plan_recover(
        self, snapshot: Snapshot, dashboard_pid: int | None = None, *, restart_only: bool = False
    ) -> RecoverPlan: ...

    def recover(
        self, plan: RecoverPlan, *, grace_s: float = 3.0, wait_s: float = 30.0
    ) -> RecoverReport: ...


def default_log(line: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    print(f"{stamp} hermes-top guard: {line}", file=sys.stderr, flush=True)


class Guard:
    """The loop. ``tick()`` never raises (but for KeyboardInterrupt / SystemExit)."""

    def __init__(
        self,
        core: GuardCore,
        config: GuardConfig | None = None,
        *,
        trends: TrendSource | None = None,
        log: Log = default_log,
        notify: Notify | None = None,
        journal_probe: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.config = config or GuardConfig()
        self._trends = trends
        self._log = log
        self._notify = notify
        #: Raises HermesTopError when the journal cannot be opened for writing.
        self._journal_probe = journal_probe
        self._clock = clock
        self._monotonic = monotonic
        self.started_at = clock()
        self.ticks = 0
        self.tick_errors = 0
        self.last_tick_at: float | None = None
        self.reaped = 0
        self.outcomes: Counter[str] = Counter()
        self.restarts = 0
        self.recoveries: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.journal_writable = True
        #: Alert key -> when it was last raised (monotonic).
        self._raised: dict[tuple[AlertKind, int, float], float] = {}
        #: Dashboard (pid, start) -> when the guard last tried to recover it.
        self._recovered: dict[tuple[int, float], float] = {}
        #: What was last said about held-back targets (said again only when it changes).
        self._held_said: frozenset[int] = frozenset()
        self._notify_failed = False
        self.stop_event = threading.Event()
        self._lock = threading.Lock()

    # -- state for the metrics ----------------------------------------------------

    @property
    def signalling(self) -> bool:
        return not self.core.readonly and self.journal_writable

    def stats(self) -> GuardStats:
        with self._lock:
            return GuardStats(
                started_at=self.started_at,
                ticks=self.ticks,
                tick_errors=self.tick_errors,
                last_tick_at=self.last_tick_at,
                reaped=self.reaped,
                outcomes=dict(self.outcomes),
                restarts=self.restarts,
                recoveries=dict(self.recoveries),
                warnings=dict(self.warnings),
                journal_writable=self.journal_writable,
                signalling=self.signalling,
            )

    def log(self, line: str) -> None:
        try:
            self._log(escape_control(line))
        except Exception:  # a closed stderr must not end the guard
            pass

    # -- the loop -------------------------------------------------------------------

    def run(
        self, *, once: bool = False, on_tick: Callable[[TickReport], None] | None = None
    ) -> int:
        """Tick every ``interval_s`` until ``stop_event`` is set (or once). Returns
        the exit code of the last tick: 0 when it ran, 1 when it failed."""
        mode = "warn only (read-only)" if self.core.readonly else "reaping"
        self.log(
            f"started: every {self.config.interval_s:g} s, {mode}, reap after "
            f"{self.config.min_age_s:g} s, recover at 95%: "
            f"{'yes' if self.config.recover else 'no'}"
        )
        code = 0
        while True:
            begun = self._monotonic()
            report = self.tick()
            code = 0 if report.ok else 1
            if on_tick is not None:
                try:
                    on_tick(report)
                except Exception as err:
                    self.log(f"after the tick: {type(err).__name__}: {err}")
            if once:
                return code
            wait = max(self.config.interval_s - (self._monotonic() - begun), 0.0)
            if self.stop_event.wait(wait):
                self.log("stopped")
                return code

    def stop(self) -> None:
        self.stop_event.set()

    def tick(self) -> TickReport:
        try:
            return self._tick()
        except Exception as err:  # a bug in a step: logged, counted, next tick anew
            return self._failed(None, {}, f"{type(err).__name__}: {err}")

    def _failed(
        self, snapshot: Snapshot | None, trends: Mapping[int, LeakTrend], error: str
    ) -> TickReport:
        with self._lock:
            self.ticks += 1
            self.tick_errors += 1
            self.last_tick_at = self._clock()
        self.log(f"tick failed: {error}; trying again in {self.config.interval_s:g} s")
        return TickReport(False, snapshot, trends, (), (), None, (), None, error)

    def _tick(self) -> TickReport:
        try:
            snapshot = self.core.scan(fresh=True)
        except Exception as err:  # ScanError, EMFILE, anything: this tick only
            return self._failed(None, {}, f"scan: {err}")
        trends: Mapping[int, LeakTrend] = {}
        errors: list[str] = []
        if self._trends is not None:
            try:
                trends = self._trends(snapshot)
            except Exception as err:
                errors.append(f"leak rate: {type(err).__name__}: {err}")
        self._check_journal()
        reap, held = self._reap(snapshot, errors)
        alerts = alerts_for(snapshot, trends, horizon_s=self.config.trend_horizon_s)
        raised = self._raise(alerts)
        recover = self._recover(snapshot, errors) if self.config.recover else None
        with self._lock:
            self.ticks += 1
            self.last_tick_at = self._clock()
            if errors:
                self.tick_errors += 1
        for e in errors:
            self.log(f"tick error: {e}")
        return TickReport(
            not errors,
            snapshot,
            trends,
            tuple(alerts),
            tuple(raised),
            reap,
            tuple(held),
            recover,
            "; ".join(errors) or None,
        )

    # -- the journal ----------------------------------------------------------------

    def _check_journal(self) -> None:
        """While the journal is unwritable, look each tick whether it is back."""
        if self.journal_writable or self._journal_probe is None:
            return
        try:
            self._journal_probe()
        except Exception:
            return
        with self._lock:
            self.journal_writable = True
        self.log("the signal journal can be written again: signalling resumes")

    def _journal_lost(self, why: str) -> None:
        with self._lock:
            was = self.journal_writable
            self.journal_writable = False
        if was:
            self.log(
                f"cannot write the signal journal ({why}): the guard signals nothing until it "
                "can (it still warns)"
            )

    # -- reaping --------------------------------------------------------------------

    def _reap(
        self, snapshot: Snapshot, errors: list[str]
    ) -> tuple[ActionReport | None, list[ProcessInfo]]:
        plan = self.core.plan_reap(snapshot, min_age_s=self.config.min_age_s)
        targets = list(plan.targets)
        if not targets:
            self._held_said = frozenset()
            return None, []
        if not self.signalling:
            pids = frozenset(p.pid for p in targets)
            if pids != self._held_said:
                self._held_said = pids
                why = "read-only" if self.core.readonly else "the journal cannot be written"
                self.log(f"would reap {len(targets)} process(es) ({why}): pids {_pids(targets)}")
            return None, targets
        self._held_said = frozenset()
        try:
            report = self.core.reap(targets, grace_s=self.config.grace_s)
        except HermesTopError as err:
            # Nothing was signalled (the Signaller raises only before the first signal).
            if self._journal_broken():
                self._journal_lost(str(err))
            else:
                errors.append(f"reap: {err}")
            return None, targets
        counts: Counter[str] = Counter(r.outcome.value for r in report.results)
        ended = sum(1 for r in report.results if r.outcome in (Outcome.TERMINATED, Outcome.KILLED))
        with self._lock:
            self.reaped += ended
            self.outcomes.update(counts)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        self.log(f"reaped {len(report.results)} process(es): {summary}")
        for r in report.results:
            self.log(f"  {r.pid} {r.role.value} ({r.state.value}): {r.outcome.value} {r.detail}")
        if report.journal_lost:
            self._journal_lost(f"{report.journal_lost} record(s) lost: {report.journal_error}")
        return report, []

    def _journal_broken(self) -> bool:
        if self._journal_probe is None:
            return True  # cannot tell: be safe, stop signalling until a reap works
        try:
            self._journal_probe()
        except Exception:
            return True
        return False

    # -- warnings -------------------------------------------------------------------

    def _raise(self, alerts: Sequence[Alert]) -> list[Alert]:
        now = self._monotonic()
        keys = {(a.kind, a.dashboard_pid, a.dashboard_start): a for a in alerts}
        for key in list(self._raised):
            if key not in keys:
                del self._raised[key]
                kind, pid, _ = key
                self.log(f"dashboard {pid}: {kind.value} cleared")
        raised = []
        for key, alert in keys.items():
            last = self._raised.get(key)
            if last is not None and now - last < self.config.rewarn_s:
                continue
            self._raised[key] = now
            raised.append(alert)
            with self._lock:
                self.warnings[alert.kind.value] += 1
            self.log(f"warning: {alert.message}")
            self._desktop(alert)
        return raised

    def _desktop(self, alert: Alert) -> None:
        if self._notify is None:
            return
        title = (
            "Hermes dashboard near its FD limit"
            if alert.kind is not AlertKind.FD_TREND
            else "Hermes dashboard leaking FDs"
        )
        try:
            self._notify(title, escape_control(alert.message))
        except Exception as err:
            if not self._notify_failed:
                self._notify_failed = True
                self.log(f"desktop notification failed ({err}); warnings go to this log only")
            return
        self._notify_failed = False

    # -- recover --------------------------------------------------------------------

    def _recover(self, snapshot: Snapshot, errors: list[str]) -> RecoverReport | None:
        critical = [d for d in snapshot.dashboards if fd_level(d.fd_ratio) is FdLevel.CRITICAL]
        if not critical:
            return None
        now = self._monotonic()
        last_report: RecoverReport | None = None
        for dash in critical:
            proc = snapshot.get(dash.pid)
            key = (dash.pid, proc.create_time if proc is not None else 0.0)
            last = self._recovered.get(key)
            if last is not None and now - last < self.config.recover_backoff_s:
                continue
            self._recovered[key] = now
            if not self.signalling:
                why = "read-only" if self.core.readonly else "the journal cannot be written"
                self.log(f"would recover dashboard {dash.pid} ({why})")
                continue
            try:
                plan = self.core.plan_recover(snapshot, dash.pid)
                if not plan.steps:
                    reasons = "; ".join(w for _, w in plan.skipped) or "nothing to do"
                    self.log(f"cannot recover dashboard {dash.pid}: {reasons}")
                    continue
                self.log(f"recovering dashboard {dash.pid} (at {dash.fd_ratio or 0:.0%})")
                report = self.core.recover(
                    plan, grace_s=self.config.grace_s, wait_s=self.config.recover_wait_s
                )
            except HermesTopError as err:
                errors.append(f"recover dashboard {dash.pid}: {err}")
                continue
            last_report = report
            with self._lock:
                for o in report.outcomes:
                    if o.restart is not None and o.restart.ok:
                        self.restarts += 1
                    self.recoveries["ok" if o.ok else "failed"] += 1
                    for part in (o.reaped, o.leftovers):
                        if part is not None:
                            self.outcomes.update(r.outcome.value for r in part.results)
                            self.reaped += sum(
                                1
                                for r in part.results
                                if r.outcome in (Outcome.TERMINATED, Outcome.KILLED)
                            )
            for o in report.outcomes:
                new = f"PID {o.new_pid}" if o.new_pid else "no dashboard"
                self.log(
                    f"recover dashboard {o.old_pid} -> {new}: FDs {o.fds_before} -> "
                    f"{o.fds_after}: {'ok' if o.ok else 'NOT ok'} ({o.detail})"
                )
        # Forget dashboards that are gone.
        live = {(p.pid, p.create_time) for p in snapshot.processes}
        for key in list(self._recovered):
            if key not in live:
                del self._recovered[key]
        return last_report


def _pids(procs: Sequence[ProcessInfo], limit: int = 8) -> str:
    shown = ", ".join(str(p.pid) for p in procs[:limit])
    return shown + (", ..." if len(procs) > limit else "")
