"""The data the core hands out: plain, immutable snapshots of what a scan found.

Everything the CLI prints and the TUI draws is built from these types, so they
carry no behaviour beyond small conveniences and JSON conversion.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar


class Role(enum.StrEnum):
    """What a Hermes process is, from its argv (see core/rules.py)."""

    DASHBOARD = "dashboard"
    GATEWAY = "gateway"
    CLI = "cli"
    TUI = "tui"
    GATEWAY_ENTRY = "gateway_entry"
    SLASH_WORKER = "slash_worker"
    #: An MCP server a worker or a dashboard runs: the ``mcp_stdio_watchdog.py``
    #: wrapper and the command below it.
    MCP = "mcp"
    #: Any other process below a Hermes process (a tool a worker started ...).
    CHILD = "child"
    # A zombie child of a Hermes process whose argv is gone and whose name
    # does not say what it was.
    UNKNOWN = "unknown"


#: Processes that can own workers: any live Hermes CLI invocation.
HOST_ROLES = frozenset({Role.DASHBOARD, Role.GATEWAY, Role.CLI})


class State(enum.StrEnum):
    LIVE = "live"
    #: Kept by the dashboard on purpose (a closed tab's keep-alive), for a while.
    PARKED = "parked"
    STALE = "stale"
    #: Its host is alive but no longer serves it (see ``ProcessInfo.evidence``).
    ABANDONED = "abandoned"
    ORPHAN = "orphan"
    ZOMBIE = "zombie"


#: States that mean "leaked": a reap can end them.
LEAKED_STATES = frozenset({State.ORPHAN, State.STALE, State.ABANDONED})


class Confidence(enum.StrEnum):
    """How sure a leak verdict is: ``high`` is reaped by default, ``low`` only by --pid."""

    HIGH = "high"
    LOW = "low"


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


_Record = TypeVar("_Record")


def frozen_record(cls: type[_Record], values: dict[str, Any]) -> _Record:
    """``cls(**values)`` for a frozen dataclass with no ``__post_init__`` and no
    slots, ``values`` naming every field: one dict update instead of a frozen
    ``__init__``'s ``object.__setattr__`` per field, about 5x faster (the scan
    builds a ProcessInfo per Hermes process per tick). Equal to ``cls(**values)``
    (tests/core/test_frozen_record.py)."""
    if len(values) != len(cls.__dataclass_fields__):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: {len(values)} values for its fields")
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def aged(info: ProcessInfo, age_s: float) -> ProcessInfo:
    """``dataclasses.replace(info, age_s=age_s)`` in one dict copy: a tick in which
    nothing a process was built from changed only moves its age."""
    record = object.__new__(ProcessInfo)
    record.__dict__.update(info.__dict__)
    record.__dict__["age_s"] = age_s
    return record


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
    #: argv with secrets redacted and control characters escaped: safe to print.
    cmdline: tuple[str, ...]
    #: Why the state was given, one short fact each (leaks: what proves it).
    evidence: tuple[str, ...] = ()
    #: How sure a leak verdict is (None for live, parked and zombie processes).
    confidence: Confidence | None = None
    #: Resident memory, where readable.
    rss_bytes: int | None = None
    #: CPU time used so far (user + system): the TUI's CPU% from two snapshots.
    cpu_seconds: float | None = None

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
        return self.state in LEAKED_STATES

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
            "evidence": list(self.evidence),
            "confidence": self.confidence.value if self.confidence else None,
            "rss_bytes": self.rss_bytes,
            "cpu_seconds": self.cpu_seconds,
        }


@dataclass(frozen=True)
class SessionInfo:
    """One chat session under a dashboard: its tui (if any) and its workers."""

    #: The ``--session-key`` when known, else ``tui-<pid>``.
    key: str
    session_key: str | None
    tui_pid: int | None
    pids: tuple[int, ...]
    #: Resident memory of its processes together (those readable).
    rss_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "session_key": self.session_key,
            "tui_pid": self.tui_pid,
            "pids": list(self.pids),
            "rss_bytes": self.rss_bytes,
        }


class Remedy(enum.StrEnum):
    """What brings a dashboard back to health (see core/problems.py)."""

    NONE = "none"
    REAP = "reap"
    RESTART = "restart"
    REAP_RESTART = "reap+restart"


@dataclass(frozen=True)
class FdBudget:
    """Where a dashboard's FDs go. Pipes are told apart by who holds their other
    end (Linux: by inode); on macOS only the total is known (``exact`` False)."""

    total: int
    #: stdin/stdout/stderr.
    std: int = 0
    #: Pipes to live workers and tabs.
    live_pipes: int = 0
    #: Pipes to orphaned, abandoned or stale processes below it.
    leaked_pipes: int = 0
    #: Pipes whose other end no process below it holds (zombies' pipes): only a
    #: restart frees them.
    dead_pipes: int = 0
    #: SQLite handles per database (the .db, -wal and -shm of one file together).
    sqlite: Mapping[str, int] = field(default_factory=dict)
    sockets: int = 0
    ptys: int = 0
    other: int = 0
    exact: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "std": self.std,
            "live_pipes": self.live_pipes,
            "leaked_pipes": self.leaked_pipes,
            "dead_pipes": self.dead_pipes,
            "sqlite": dict(self.sqlite),
            "sockets": self.sockets,
            "ptys": self.ptys,
            "other": self.other,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class DashboardInfo:
    pid: int
    num_fds: int | None
    limits: FdLimits
    #: FDs of the dashboard that reaping its leaked processes would free on its
    #: version (on 0.13 nothing: it keeps the dead workers' pipes).
    reclaimable_fds: int
    #: True when ``reclaimable_fds`` is estimated rather than counted pipe by pipe.
    reclaimable_is_estimate: bool
    sessions: tuple[SessionInfo, ...]
    port: int | None = None
    profile: str | None = None
    #: The hermes-agent version it runs (site-packages or /api/status), if known.
    hermes_version: str | None = None
    fd_budget: FdBudget | None = None
    #: FDs a restart would give back (leaked and dead pipes, excess SQLite handles).
    restart_frees: int = 0
    remedy: Remedy = Remedy.NONE
    remedy_reason: str = ""
    #: Resident memory of the dashboard and everything below it.
    rss_bytes: int = 0

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
            "restart_frees": self.restart_frees,
            "hermes_version": self.hermes_version,
            "fd_budget": self.fd_budget.to_json() if self.fd_budget else None,
            "remedy": self.remedy.value,
            "remedy_reason": self.remedy_reason,
            "rss_bytes": self.rss_bytes,
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
    SKIPPED = "skipped"  # refused by a safety rule, or could not be pinned (detail says)
    UNKNOWN = "unknown"  # signalled, but we could not look whether it ended (e.g. EMFILE)
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
class ActionReport:
    """What one signal action or reap did to each target."""

    dry_run: bool
    grace_s: float
    elapsed_s: float
    results: tuple[ActionResult, ...]
    #: Journal records that could not be written (disk full ...): the action
    #: still finished its plan; these signals are missing from the journal.
    journal_lost: int = 0
    journal_error: str | None = None

    @property
    def all_ended(self) -> bool:
        return all(r.outcome in ENDED_OUTCOMES for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace_s": self.grace_s,
            "elapsed_s": round(self.elapsed_s, 3),
            "results": [r.to_json() for r in self.results],
            "journal_lost": self.journal_lost,
            "journal_error": self.journal_error,
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
