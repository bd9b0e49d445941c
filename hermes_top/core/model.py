"""The data the core hands out: plain, immutable snapshots of what a scan found.

Everything the CLI prints and the TUI draws is built from these types, so they
carry no behaviour beyond small conveniences and JSON conversion.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    """What a Hermes process is, from its argv (see core/rules.py)."""

    DASHBOARD = "dashboard"
    GATEWAY = "gateway"
    CLI = "cli"
    TUI = "tui"
    GATEWAY_ENTRY = "gateway_entry"
    SLASH_WORKER = "slash_worker"
    # A zombie child of a Hermes process whose argv is gone and whose name
    # does not say what it was.
    UNKNOWN = "unknown"


#: Processes that can own workers: any live Hermes CLI invocation.
HOST_ROLES = frozenset({Role.DASHBOARD, Role.GATEWAY, Role.CLI})
#: Processes that belong to a chat session and can leak.
WORKER_ROLES = frozenset({Role.TUI, Role.GATEWAY_ENTRY, Role.SLASH_WORKER})


class State(enum.StrEnum):
    LIVE = "live"
    STALE = "stale"
    ORPHAN = "orphan"
    ZOMBIE = "zombie"


#: States worth a user's attention, most urgent first.
LEAK_STATES = (State.ORPHAN, State.STALE, State.ZOMBIE)


@dataclass(frozen=True)
class Identity:
    """Who a process was when we looked at it. A signal goes only to this identity.

    ``cmdline`` is the raw argv (never shown: it may hold tokens); use
    ``ProcessInfo.cmdline`` for display.
    """

    pid: int
    create_time: float
    uid: int
    cmdline: tuple[str, ...]
    #: Scan-unique number of the pidfd the core opened when it first saw this
    #: process (Linux); 0 when nothing was pinned. Tells apart a process from a
    #: PID reuser that started in the same clock tick (create times are 10 ms).
    pin: int = 0


@dataclass(frozen=True)
class FdLimits:
    """A process's RLIMIT_NOFILE and where the numbers came from.

    source: ``proc`` (read from the kernel), ``plist`` (the launchd agent's
    SoftResourceLimits), ``launchctl`` (``launchctl limit maxfiles``), ``default``
    (the platform default, a guess) or ``unknown``. ``inferred`` is True whenever
    the numbers were not read from the process itself.
    """

    soft: int | None
    hard: int | None
    source: str
    inferred: bool
    detail: str = ""

    @property
    def label(self) -> str:
        return f"{self.source}, inferred" if self.inferred else self.source


@dataclass(frozen=True)
class ProcessInfo:
    identity: Identity
    ppid: int
    role: Role
    state: State
    reason: str
    #: ``--session-key`` of a slash worker, or the key a tui/entry was tied to.
    session_key: str | None
    #: The dashboard this process belongs to, if any live one is among its ancestors.
    dashboard_pid: int | None
    #: The nearest live host (dashboard/gateway/cli, or tui for its own entry/workers).
    host_pid: int | None
    username: str
    name: str
    #: One-letter kernel state: R, S, D, T (stopped), t, Z, I ...
    status: str
    age_s: float
    num_fds: int | None
    #: Why ``num_fds`` is None (e.g. "access denied").
    num_fds_error: str | None
    #: argv with secrets redacted: safe to print.
    cmdline: tuple[str, ...]

    @property
    def pid(self) -> int:
        return self.identity.pid

    @property
    def uid(self) -> int:
        return self.identity.uid

    @property
    def create_time(self) -> float:
        return self.identity.create_time

    @property
    def is_leaked(self) -> bool:
        return self.state in (State.ORPHAN, State.STALE)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "role": self.role.value,
            "state": self.state.value,
            "reason": self.reason,
            "session_key": self.session_key,
            "dashboard_pid": self.dashboard_pid,
            "host_pid": self.host_pid,
            "username": self.username,
            "uid": self.uid,
            "status": self.status,
            "create_time": self.create_time,
            "age_s": round(self.age_s, 3),
            "num_fds": self.num_fds,
            "num_fds_error": self.num_fds_error,
            "cmdline": list(self.cmdline),
        }


@dataclass(frozen=True)
class SessionInfo:
    """One chat session under a dashboard: its tui (if any) and its workers."""

    #: The ``--session-key`` when known, else ``tui-<pid>``.
    key: str
    session_key: str | None
    tui_pid: int | None
    pids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "session_key": self.session_key,
            "tui_pid": self.tui_pid,
            "pids": list(self.pids),
        }


#: A dashboard at this share of its soft FD limit is near it (`list --check`,
#: doctor's warning, the TUI's "▲ HIGH")...
FD_HIGH_RATIO = 0.80
#: ... and at this share, critical (doctor's error, the TUI's "✖ CRITICAL").
FD_CRITICAL_RATIO = 0.95


@dataclass(frozen=True)
class DashboardInfo:
    pid: int
    num_fds: int | None
    limits: FdLimits
    #: FDs of the dashboard that reaping its leaked workers would free.
    reclaimable_fds: int
    #: True when ``reclaimable_fds`` is 3 per leaked child rather than counted pipes.
    reclaimable_is_estimate: bool
    sessions: tuple[SessionInfo, ...]
    port: int | None = None
    profile: str | None = None

    @property
    def fd_ratio(self) -> float | None:
        if self.num_fds is None or not self.limits.soft:
            return None
        return self.num_fds / self.limits.soft

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "port": self.port,
            "profile": self.profile,
            "num_fds": self.num_fds,
            "fd_soft_limit": self.limits.soft,
            "fd_hard_limit": self.limits.hard,
            "fd_limit_source": self.limits.source,
            "fd_limit_inferred": self.limits.inferred,
            "fd_limit_detail": self.limits.detail,
            "reclaimable_fds": self.reclaimable_fds,
            "reclaimable_is_estimate": self.reclaimable_is_estimate,
            "sessions": [s.to_json() for s in self.sessions],
        }


@dataclass(frozen=True)
class Snapshot:
    """Everything one scan found. ``processes`` is ordered by pid."""

    taken_at: float
    platform: str
    processes: tuple[ProcessInfo, ...]
    dashboards: tuple[DashboardInfo, ...]
    #: Non-fatal problems met while scanning (one line each).
    errors: tuple[str, ...] = ()
    _by_pid: Mapping[int, ProcessInfo] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_pid", {p.pid: p for p in self.processes})

    def get(self, pid: int) -> ProcessInfo | None:
        return self._by_pid.get(pid)

    @property
    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in State}
        for p in self.processes:
            counts[p.state.value] += 1
        counts["total"] = len(self.processes)
        return counts

    def dashboard(self, pid: int) -> DashboardInfo | None:
        return next((d for d in self.dashboards if d.pid == pid), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "platform": self.platform,
            "taken_at": self.taken_at,
            "processes": [p.to_json() for p in self.processes],
            "dashboards": [d.to_json() for d in self.dashboards],
            "summary": self.summary,
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class FdBreakdown:
    """Open FDs of one process by kind (pipe, socket, file, tty, other)."""

    pid: int
    total: int | None
    counts: Mapping[str, int]
    #: Most common file targets, e.g. ("/home/u/.hermes/state.db", 3).
    top_targets: tuple[tuple[str, int], ...]
    #: Where the breakdown came from ("/proc", "lsof") or why it is missing.
    source: str
    error: str | None = None


class Outcome(enum.StrEnum):
    TERMINATED = "terminated"  # exited after SIGTERM
    KILLED = "killed"  # needed SIGKILL
    SIGNALLED = "signalled"  # signal delivered, still running when we stopped waiting
    GONE = "gone"  # already gone before we signalled
    DENIED = "denied"  # EPERM
    CHANGED = "changed"  # identity no longer matches: skipped
    ZOMBIE = "zombie"  # cannot be killed; its parent must reap it
    SURVIVED = "survived"  # still alive after SIGKILL (e.g. D state)
    SKIPPED = "skipped"  # refused by a safety rule (detail says which)
    PLANNED = "planned"  # dry run: would be signalled


#: Outcomes that mean the target no longer runs.
ENDED_OUTCOMES = frozenset({Outcome.TERMINATED, Outcome.KILLED, Outcome.GONE})


@dataclass(frozen=True)
class ActionResult:
    pid: int
    role: Role
    state: State
    outcome: Outcome
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "role": self.role.value,
            "state": self.state.value,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ReapReport:
    dry_run: bool
    grace_s: float
    elapsed_s: float
    results: tuple[ActionResult, ...]

    @property
    def all_ended(self) -> bool:
        return all(r.outcome in ENDED_OUTCOMES for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace_s": self.grace_s,
            "elapsed_s": round(self.elapsed_s, 3),
            "results": [r.to_json() for r in self.results],
        }


@dataclass(frozen=True)
class ReapPlan:
    """What a reap would do: the targets, and what was left out and why."""

    targets: tuple[ProcessInfo, ...]
    #: (process, why it is not a target), e.g. zombies, too young, other user.
    excluded: tuple[tuple[ProcessInfo, str], ...]


@dataclass(frozen=True)
class ServiceOutcome:
    """The short result of a service action (restart, reload) for the UI and CLI."""

    ok: bool
    summary: str
    detail: str = ""
