"""What is wrong with a snapshot and what to do about it.

The one judgement used by ``list --check``, ``doctor``, the TUI header and
anything later (the guard, metrics): every threshold is defined and compared
here, so a dashboard at exactly 80 % of its limit is judged the same everywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from hermes_top.core.model import (
    Confidence,
    DashboardInfo,
    FdBudget,
    FdLimits,
    ProcessInfo,
    Remedy,
    Snapshot,
    State,
)
from hermes_top.core.rules import SQLITE_HANDLES_NORMAL, VersionFacts

#: A dashboard at this share of its soft FD limit is near it ...
FD_HIGH_RATIO = 0.80
#: ... and at this share, critical.
FD_CRITICAL_RATIO = 0.95


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class FdLevel(enum.Enum):
    OK = "ok"
    HIGH = "high"
    CRITICAL = "critical"


def fd_level(ratio: float | None) -> FdLevel:
    """How close a dashboard is to its soft limit (``num_fds / soft``)."""
    if ratio is None:
        return FdLevel.OK
    if ratio >= FD_CRITICAL_RATIO:
        return FdLevel.CRITICAL
    if ratio >= FD_HIGH_RATIO:
        return FdLevel.HIGH
    return FdLevel.OK


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with what to run about it."""

    #: Stable id for scripts: dashboard-fds, orphans, stale, zombies.
    code: str
    severity: Severity
    #: What it is about: "dashboard 1234" or "processes".
    subject: str
    message: str
    #: The command that deals with it ("" when nothing hermes-top runs would).
    remedy: str
    pids: tuple[int, ...] = ()


def problems(snapshot: Snapshot) -> list[Problem]:
    """Everything wrong with ``snapshot``, most severe first (stable order)."""
    found = [p for d in snapshot.dashboards if (p := dashboard_problem(d)) is not None]
    found += [p for d in snapshot.dashboards if (p := remedy_problem(d)) is not None]
    by_state = _by_state(snapshot.processes)
    abandoned = by_state.get(State.ABANDONED, [])
    sure = [p for p in abandoned if p.confidence is Confidence.HIGH]
    if sure:
        found.append(
            Problem(
                "abandoned",
                Severity.WARNING,
                "processes",
                f"{len(sure)} abandoned worker(s) under a live dashboard (pids {_pids(sure)})",
                "hermes-top reap",
                tuple(p.pid for p in sure),
            )
        )
    unsure = [p for p in abandoned if p.confidence is not Confidence.HIGH]
    if unsure:
        found.append(
            Problem(
                "maybe-abandoned",
                Severity.INFO,
                "processes",
                f"{len(unsure)} worker(s) that look abandoned, with low confidence "
                f"(pids {_pids(unsure)}): see their evidence",
                "hermes-top reap --pid PID",
                tuple(p.pid for p in unsure),
            )
        )
    orphans = by_state.get(State.ORPHAN, [])
    if orphans:
        found.append(
            Problem(
                "orphans",
                Severity.WARNING,
                "processes",
                f"{len(orphans)} orphaned worker(s) (pids {_pids(orphans)})",
                "hermes-top reap",
                tuple(p.pid for p in orphans),
            )
        )
    stale = by_state.get(State.STALE, [])
    if stale:
        found.append(
            Problem(
                "stale",
                Severity.WARNING,
                "processes",
                f"{len(stale)} stale worker(s) under a live host (pids {_pids(stale)})",
                "hermes-top reap --include-stale",
                tuple(p.pid for p in stale),
            )
        )
    zombies = by_state.get(State.ZOMBIE, [])
    if zombies:
        found.append(
            Problem(
                "zombies",
                Severity.INFO,
                "processes",
                f"{len(zombies)} zombie(s) (pids {_pids(zombies)}): only their parent can "
                "clear them",
                "hermes-top restart",
                tuple(p.pid for p in zombies),
            )
        )
    return sorted(found, key=lambda p: -p.severity)


def remedy_problem(dash: DashboardInfo) -> Problem | None:
    if dash.remedy is Remedy.NONE:
        return None
    command = (
        "hermes-top reap"
        if dash.remedy is Remedy.REAP
        else f"hermes-top recover --dashboard {dash.pid}"
    )
    return Problem(
        "dashboard-remedy",
        Severity.WARNING,
        f"dashboard {dash.pid}",
        f"dashboard {dash.pid} needs {dash.remedy.value}: {dash.remedy_reason}",
        command,
        (dash.pid,),
    )


def dashboard_problem(dash: DashboardInfo) -> Problem | None:
    level = fd_level(dash.fd_ratio)
    if level is FdLevel.OK or dash.fd_ratio is None:
        return None
    approx = "~" if dash.reclaimable_is_estimate else ""
    freeable = f"; reaping frees {approx}{dash.reclaimable_fds}" if dash.reclaimable_fds else ""
    return Problem(
        "dashboard-fds",
        Severity.ERROR if level is FdLevel.CRITICAL else Severity.WARNING,
        f"dashboard {dash.pid}",
        f"dashboard {dash.pid} uses {dash.num_fds} of {dash.limits.soft} FDs "
        f"({dash.fd_ratio:.0%}; limit: {dash.limits.label}){freeable}",
        "hermes-top doctor",
        (dash.pid,),
    )


def sqlite_excess(budget: FdBudget) -> dict[str, int]:
    """Databases the dashboard holds far more handles of than it needs."""
    return {db: n for db, n in budget.sqlite.items() if n > SQLITE_HANDLES_NORMAL}


def restart_frees(budget: FdBudget | None) -> int:
    """FDs a restart gives back: pipes of leaked and dead workers, excess SQLite
    handles (a fresh dashboard reopens what it needs; its tabs reconnect)."""
    if budget is None or not budget.exact:
        return 0
    excess = sum(n - SQLITE_HANDLES_NORMAL for n in sqlite_excess(budget).values())
    return budget.leaked_pipes + budget.dead_pipes + excess


def remedy_for(
    dashboard: ProcessInfo,
    limits: FdLimits,
    budget: FdBudget | None,
    below: Sequence[ProcessInfo],
    reclaimable: int,
    version: str | None,
    facts: VersionFacts,
) -> tuple[Remedy, str]:
    """What brings this dashboard back: reap its leaked processes, restart it, both."""
    reap = [p for p in below if p.is_leaked and p.confidence is Confidence.HIGH]
    why: list[str] = []
    restart: list[str] = []
    if reap:
        why.append(f"{len(reap)} leaked process(es) below it")
    if budget is not None and budget.exact:
        if budget.dead_pipes >= 3:
            restart.append(
                f"it keeps {budget.dead_pipes} pipe ends of workers that are gone "
                "(only a restart closes them)"
            )
        for db, n in sqlite_excess(budget).items():
            restart.append(f"it holds {n} handles of {db}")
        if budget.leaked_pipes and not facts.reap_frees_pipes:
            release = f"hermes-agent {version}" if version else "this version"
            restart.append(
                f"{release} keeps the pipes of reaped workers: only a restart frees their "
                f"{budget.leaked_pipes} FDs"
            )
    if dashboard.num_fds is not None and limits.soft:
        after = (dashboard.num_fds - reclaimable) / limits.soft
        if fd_level(after) is not FdLevel.OK and not restart:
            restart.append(f"even after a reap it would hold {after:.0%} of its FD limit")
    if reap and restart:
        return Remedy.REAP_RESTART, "; ".join(why + restart)
    if restart:
        return Remedy.RESTART, "; ".join(restart)
    if reap:
        return Remedy.REAP, why[0]
    return Remedy.NONE, ""


def worst(found: Sequence[Problem]) -> Severity | None:
    return max((p.severity for p in found), default=None)


def _by_state(procs: Sequence[ProcessInfo]) -> dict[State, list[ProcessInfo]]:
    out: dict[State, list[ProcessInfo]] = {}
    for p in procs:
        out.setdefault(p.state, []).append(p)
    return out


def _pids(procs: Sequence[ProcessInfo], limit: int = 8) -> str:
    shown = ", ".join(str(p.pid) for p in procs[:limit])
    return shown + (", ..." if len(procs) > limit else "")
