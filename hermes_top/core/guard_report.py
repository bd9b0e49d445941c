"""What the guard found and did: its alerts (from the CLI's own problems code),
one tick's report, and its counters since it started (core/guard.py runs the
loop; view/metrics.py exposes these)."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hermes_top.core.model import ActionReport, DashboardInfo, ProcessInfo, Snapshot
from hermes_top.core.problems import FdLevel, dashboard_problem, fd_level

if TYPE_CHECKING:
    from hermes_top.core.recovery import RecoverReport

#: A leak rate that reaches the soft limit within this long is warned about.
TREND_HORIZON_S = 3600.0


class AlertKind(enum.StrEnum):
    FD_HIGH = "fd_high"
    FD_CRITICAL = "fd_critical"
    FD_TREND = "fd_trend"


class LeakTrend(Protocol):
    """A dashboard's FD trend (``view.history.Trend`` is one)."""

    @property
    def rate_per_min(self) -> float | None: ...

    @property
    def seconds_left(self) -> float | None: ...


#: Records a snapshot's FD counts and returns each dashboard's trend, by pid.
TrendSource = Callable[[Snapshot], Mapping[int, LeakTrend]]


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    dashboard_pid: int
    #: The dashboard's create time: a restarted dashboard (new pid or not) is new.
    dashboard_start: float
    message: str


@dataclass(frozen=True)
class GuardStats:
    """What one guard process did since it started (counters reset with it)."""

    started_at: float
    ticks: int = 0
    #: Ticks that failed (the scan raised, or a step did).
    tick_errors: int = 0
    last_tick_at: float | None = None
    #: Processes a guard reap reported ``terminated`` or ``killed``: ended after
    #: its signal, as the ActionReport says (``gone`` ones ended by themselves).
    reaped: int = 0
    #: Every outcome of every target of the guard's reaps, by outcome.
    outcomes: Mapping[str, int] = field(default_factory=dict)
    #: Restarts the supervisor reported done (RestartResult.ok).
    restarts: int = 0
    #: Recover runs by result: ``ok`` or ``failed``.
    recoveries: Mapping[str, int] = field(default_factory=dict)
    #: Warnings raised (logged; notified where possible), by kind.
    warnings: Mapping[str, int] = field(default_factory=dict)
    journal_writable: bool = True
    #: False under --readonly or while the journal cannot be written.
    signalling: bool = True


@dataclass(frozen=True)
class TickReport:
    """One tick: what it saw and did (for --once, the metrics and the tests)."""

    ok: bool
    snapshot: Snapshot | None
    trends: Mapping[int, LeakTrend]
    alerts: tuple[Alert, ...]
    #: Alerts raised this tick (new, or repeated after ``rewarn_s``).
    raised: tuple[Alert, ...]
    reap: ActionReport | None
    #: Targets left alone because the guard may not signal (readonly, journal).
    held_back: tuple[ProcessInfo, ...]
    recover: RecoverReport | None
    error: str | None = None


def alerts_for(
    snapshot: Snapshot, trends: Mapping[int, LeakTrend], *, horizon_s: float = TREND_HORIZON_S
) -> list[Alert]:
    """Dashboards at ``FD_HIGH_RATIO``/``FD_CRITICAL_RATIO`` of their soft limit
    (``problems.fd_level``, the CLI's own judgement) or heading there within
    ``horizon_s`` at their leak rate."""
    found: list[Alert] = []
    for dash in snapshot.dashboards:
        proc = snapshot.get(dash.pid)
        start = proc.create_time if proc is not None else 0.0
        level = fd_level(dash.fd_ratio)
        problem = dashboard_problem(dash)
        if level is not FdLevel.OK and problem is not None:
            kind = AlertKind.FD_CRITICAL if level is FdLevel.CRITICAL else AlertKind.FD_HIGH
            found.append(Alert(kind, dash.pid, start, problem.message))
        trend = trends.get(dash.pid)
        left = trend.seconds_left if trend is not None else None
        rate = trend.rate_per_min if trend is not None else None
        if (
            left is not None
            and rate is not None
            and math.isfinite(left)
            and left <= horizon_s
            and level is not FdLevel.CRITICAL
        ):
            found.append(
                Alert(AlertKind.FD_TREND, dash.pid, start, _trend_message(dash, rate, left))
            )
    return found


def _trend_message(dash: DashboardInfo, rate: float, left: float) -> str:
    when = "now" if left <= 0 else f"in about {max(left / 60, 1):.0f} min"
    return (
        f"dashboard {dash.pid} gains {rate:+.1f} FD/min: at its soft limit of "
        f"{dash.limits.soft} FDs {when} (now {dash.num_fds}; limit: {dash.limits.label})"
    )
