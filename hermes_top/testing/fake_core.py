"""A CoreAPI over canned snapshots, for the TUI's tests, screenshots and demos.

``FakeCore`` never touches a real process: it hands out the snapshots it was
given (one per ``scan()``, the last one repeated) and records every signal,
reap and restart it is asked for, so tests can check exactly which identities
an action reached. ``demo_snapshot()`` builds one snapshot holding every state
the UI must draw.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hermes_top.core.api import ReadOnlyError
from hermes_top.core.model import (
    ActionResult,
    DashboardInfo,
    FdBreakdown,
    FdLimits,
    Identity,
    Outcome,
    ProcessInfo,
    ReapPlan,
    ReapReport,
    Role,
    ServiceOutcome,
    SessionInfo,
    Snapshot,
    State,
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
    """CoreAPI over ``snapshots``; records calls in ``signal_calls``/``reap_calls``/``restarts``.

    Processes that a signal or reap ended disappear from later scans, as they would
    for real. ``breakdowns`` maps a pid to the FdBreakdown ``fd_breakdown`` returns.
    """

    snapshots: Sequence[Snapshot]
    readonly: bool = False
    user: str = DEMO_USER
    breakdowns: dict[int, FdBreakdown] = field(default_factory=dict)
    restart_outcome: ServiceOutcome = field(
        default_factory=lambda: ServiceOutcome(True, "restarted ai.hermes.dashboard")
    )
    signal_calls: list[SignalCall] = field(default_factory=list)
    reap_calls: list[ReapCall] = field(default_factory=list)
    restarts: int = 0
    scans: int = 0
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

    def scan(self) -> Snapshot:
        with self._lock:
            index = min(self.scans, len(self.snapshots) - 1)
            self.scans += 1
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

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        wanted = {State.ORPHAN, State.STALE} if include_stale else {State.ORPHAN}
        targets: list[ProcessInfo] = []
        excluded: list[tuple[ProcessInfo, str]] = []
        for proc in snapshot.processes:
            if proc.state == State.ZOMBIE:
                excluded.append((proc, "zombie: only its parent can reap it"))
            elif proc.state not in wanted:
                if proc.state == State.STALE:
                    excluded.append((proc, "stale (not included)"))
            elif proc.username != self.user:
                excluded.append((proc, f"owned by {proc.username}"))
            elif proc.age_s < min_age_s:
                excluded.append((proc, f"younger than {min_age_s:g} s"))
            else:
                targets.append(proc)
        return ReapPlan(tuple(targets), tuple(excluded))

    # -- writing -----------------------------------------------------------------
    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> tuple[ActionResult, ...]:
        if self.readonly:
            raise ReadOnlyError("read-only: no signal sent")
        with self._lock:
            self.signal_calls.append(SignalCall(tuple(t.identity for t in targets), sig))
            ended = sig in (signal.SIGTERM, signal.SIGKILL)
            return tuple(self._act(t, ended_outcome(sig) if ended else None) for t in targets)

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ReapReport:
        if self.readonly and not dry_run:
            raise ReadOnlyError("read-only: nothing reaped")
        with self._lock:
            self.reap_calls.append(ReapCall(tuple(t.identity for t in targets), grace_s, dry_run))
            if dry_run:
                results = tuple(
                    ActionResult(t.pid, t.role, t.state, Outcome.PLANNED, "dry run")
                    for t in targets
                )
            else:
                results = tuple(self._act(t, None, reaping=True) for t in targets)
        return ReapReport(dry_run, grace_s, 0.0, results)

    def restart_dashboard(self) -> ServiceOutcome:
        if self.readonly:
            raise ReadOnlyError("read-only: no restart")
        with self._lock:
            self.restarts += 1
        return self.restart_outcome

    # -- helpers -----------------------------------------------------------------
    def _act(
        self, target: ProcessInfo, outcome: Outcome | None, *, reaping: bool = False
    ) -> ActionResult:
        live = self.current().get(target.pid)

        def result(o: Outcome, detail: str) -> ActionResult:
            return ActionResult(target.pid, target.role, target.state, o, detail)

        if live is None:
            return result(Outcome.GONE, "already gone")
        if live.identity != target.identity:
            return result(Outcome.CHANGED, "pid now belongs to another process: skipped")
        if live.username != self.user:
            return result(Outcome.DENIED, f"operation not permitted (owned by {live.username})")
        if live.state == State.ZOMBIE:
            return result(Outcome.ZOMBIE, f"zombie: its parent {live.ppid} must reap it")
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


# -- demo data -------------------------------------------------------------------

_VENV = "/Users/alice/.hermes/hermes-agent/venv"
_PY = f"{_VENV}/bin/python3"
_ENTRY_JS = f"{_VENV}/lib/python3.11/site-packages/hermes_cli/tui_dist/entry.js"
_LINUX_PY = "/home/alice/.local/share/hermes/venv/bin/python3"

_KEY_SPAWN = "20260527_141503_a1b2c3"
_KEY_ATTACH = "20260528_093012_d4e5f6"
_KEY_LINUX = "20260528_110245_0f9e8d"
_KEY_ORPHAN = "20260526_220114_77aa01"
_KEY_STUCK = "20260526_231502_be4c2d"


def _proc(
    pid: int,
    ppid: int,
    role: Role,
    state: State,
    reason: str,
    cmdline: Sequence[str],
    *,
    now: float,
    age_s: float,
    num_fds: int | None,
    session_key: str | None = None,
    dashboard_pid: int | None = None,
    host_pid: int | None = None,
    user: str = DEMO_USER,
    uid: int = DEMO_UID,
    status: str = "S",
    name: str | None = None,
    num_fds_error: str | None = None,
) -> ProcessInfo:
    argv = tuple(cmdline)
    return ProcessInfo(
        identity=Identity(pid, round(now - age_s, 2), uid, argv),
        ppid=ppid,
        role=role,
        state=state,
        reason=reason,
        session_key=session_key,
        dashboard_pid=dashboard_pid,
        host_pid=host_pid,
        username=user,
        name=name or argv[0].rsplit("/", 1)[-1],
        status=status,
        age_s=age_s,
        num_fds=num_fds,
        num_fds_error=num_fds_error,
        cmdline=argv,
    )


def demo_snapshot(now: float = DEMO_NOW, *, mac_fds: int = 218) -> Snapshot:
    """One snapshot with every state the UI draws.

    - dashboard 4100 (macOS launchd agent, 256 soft limit from the default, inferred),
      at ``mac_fds`` FDs (~85%): a spawn-path session (tui → entry → worker), its
      stale twin worker, an attach-path session (tui + worker), and a zombie node;
    - dashboard 5200 (Linux, 1024/4096 read from /proc) with one attach session
      whose tui argv carried a token (already redacted, as the core hands it out);
    - orphans with no host: a worker and an entry reparented to launchd, a stopped
      (stubborn) worker, and another user's worker.
    """
    h = 3600.0
    dash_mac = 4100
    dash_linux = 5200
    procs = [
        _proc(
            dash_mac, 1, Role.DASHBOARD, State.LIVE,
            "dashboard (launchd agent ai.hermes.dashboard)",
            [_PY, f"{_VENV}/bin/hermes", "dashboard", "--port", "9119", "--no-open"],
            now=now, age_s=2 * 24 * h + 1800, num_fds=mac_fds, host_pid=None,
        ),
        _proc(
            4119, dash_mac, Role.SLASH_WORKER, State.STALE,
            f"older twin of 4122 for session {_KEY_SPAWN}: the restarted worker's "
            "predecessor never exited",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_SPAWN],
            now=now, age_s=5 * h + 600, num_fds=8, session_key=_KEY_SPAWN,
            dashboard_pid=dash_mac, host_pid=dash_mac,
        ),
        _proc(
            4120, dash_mac, Role.TUI, State.LIVE, "chat tab (spawn path), held by its dashboard",
            ["node", "--expose-gc", _ENTRY_JS],
            now=now, age_s=5 * h + 900, num_fds=23, session_key=_KEY_SPAWN,
            dashboard_pid=dash_mac, host_pid=dash_mac,
        ),
        _proc(
            4121, 4120, Role.GATEWAY_ENTRY, State.LIVE, "gateway of a live chat tab",
            [_PY, "-m", "tui_gateway.entry"],
            now=now, age_s=5 * h + 898, num_fds=14, session_key=_KEY_SPAWN,
            dashboard_pid=dash_mac, host_pid=4120,
        ),
        _proc(
            4122, 4121, Role.SLASH_WORKER, State.LIVE, "current worker of a live session",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_SPAWN,
             "--model", "claude-sonnet"],
            now=now, age_s=420, num_fds=8, session_key=_KEY_SPAWN,
            dashboard_pid=dash_mac, host_pid=4121,
        ),
        _proc(
            4130, dash_mac, Role.TUI, State.LIVE, "chat tab (attach path), kept for reconnects",
            ["node", "--expose-gc", _ENTRY_JS],
            now=now, age_s=1500, num_fds=21, session_key=_KEY_ATTACH,
            dashboard_pid=dash_mac, host_pid=dash_mac,
        ),
        _proc(
            4131, dash_mac, Role.SLASH_WORKER, State.LIVE, "worker of an attached session",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_ATTACH],
            now=now, age_s=1494, num_fds=8, session_key=_KEY_ATTACH,
            dashboard_pid=dash_mac, host_pid=dash_mac,
        ),
        _proc(
            4140, dash_mac, Role.TUI, State.ZOMBIE,
            "defunct child: dashboard 4100 has not reaped it (restart the dashboard)",
            [], now=now, age_s=40, num_fds=None, dashboard_pid=dash_mac,
            host_pid=dash_mac, status="Z", name="node",
        ),
        _proc(
            dash_linux, 1, Role.DASHBOARD, State.LIVE,
            "dashboard (systemd --user hermes-dashboard.service)",
            [_LINUX_PY, "-m", "hermes_cli.main", "-p", "work", "dashboard", "--port", "9121",
             "--host", "127.0.0.1"],
            now=now, age_s=3 * h, num_fds=61,
        ),
        _proc(
            5210, dash_linux, Role.TUI, State.LIVE, "chat tab (attach path), kept for reconnects",
            ["node", "--expose-gc", "/home/alice/hermes-agent/ui-tui/dist/entry.js",
             "--gateway", "ws://127.0.0.1:9121/api/ws?token=<redacted>"],
            now=now, age_s=2 * h, num_fds=19, session_key=_KEY_LINUX,
            dashboard_pid=dash_linux, host_pid=dash_linux,
        ),
        _proc(
            5211, dash_linux, Role.SLASH_WORKER, State.LIVE, "worker of an attached session",
            [_LINUX_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_LINUX],
            now=now, age_s=2 * h - 6, num_fds=8, session_key=_KEY_LINUX,
            dashboard_pid=dash_linux, host_pid=dash_linux,
        ),
        _proc(
            3001, 1, Role.SLASH_WORKER, State.ORPHAN,
            "parent 2990 exited; reparented to 1 (launchd); no live host",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_ORPHAN],
            now=now, age_s=27 * h + 720, num_fds=8, session_key=_KEY_ORPHAN,
        ),
        _proc(
            3002, 1, Role.GATEWAY_ENTRY, State.ORPHAN,
            "parent tui 2989 exited; reparented to 1 (launchd); no live host",
            [_PY, "-m", "tui_gateway.entry", "--sidecar", "ws://127.0.0.1:9119/api/ws?token=<redacted>"],
            now=now, age_s=27 * h + 730, num_fds=12, session_key=_KEY_ORPHAN,
        ),
        _proc(
            3003, 1, Role.SLASH_WORKER, State.ORPHAN,
            "no live host; stopped (SIGSTOP): ignores SIGTERM, the reap will need SIGKILL",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_STUCK],
            now=now, age_s=26 * h, num_fds=8, session_key=_KEY_STUCK, status="T",
        ),
        _proc(
            3010, 1, Role.SLASH_WORKER, State.ORPHAN,
            "no live host; owned by another user",
            ["/opt/hermes/venv/bin/python3", "-m", "tui_gateway.slash_worker",
             "--session-key", "20260525_080000_c0ffee"],
            now=now, age_s=52 * h, num_fds=None, num_fds_error="access denied",
            session_key="20260525_080000_c0ffee", user=OTHER_USER, uid=OTHER_UID,
        ),
    ]  # fmt: skip
    procs.sort(key=lambda p: p.pid)
    dashboards = (
        DashboardInfo(
            pid=dash_mac,
            num_fds=mac_fds,
            limits=FdLimits(256, None, "default", True, "launchd default maxfiles (256)"),
            reclaimable_fds=3,
            reclaimable_is_estimate=False,
            sessions=(
                SessionInfo(_KEY_SPAWN, _KEY_SPAWN, 4120, (4119, 4120, 4121, 4122)),
                SessionInfo(_KEY_ATTACH, _KEY_ATTACH, 4130, (4130, 4131)),
            ),
            port=9119,
        ),
        DashboardInfo(
            pid=dash_linux,
            num_fds=61,
            limits=FdLimits(1024, 4096, "proc", False, "/proc/5200/limits"),
            reclaimable_fds=0,
            reclaimable_is_estimate=False,
            sessions=(SessionInfo(_KEY_LINUX, _KEY_LINUX, 5210, (5210, 5211)),),
            port=9121,
            profile="work",
        ),
    )
    return Snapshot(now, "darwin", tuple(procs), dashboards)


def empty_snapshot(now: float = DEMO_NOW) -> Snapshot:
    return Snapshot(now, "linux", (), ())


def demo_breakdowns() -> dict[int, FdBreakdown]:
    """FD breakdowns for a few demo pids (the rest fall back to a total-only answer)."""
    state_db = "/Users/alice/.hermes/state.db"
    worker = FdBreakdown(
        3001,
        8,
        {"pipe": 3, "file": 5},
        ((state_db, 1), (f"{state_db}-wal", 1), (f"{state_db}-shm", 1)),
        "lsof",
    )
    dash = FdBreakdown(
        4100,
        218,
        {"pipe": 171, "socket": 24, "file": 19, "tty": 4},
        ((state_db, 3), ("/Users/alice/.hermes/kanban.db", 2)),
        "lsof",
    )
    return {3001: worker, 4100: dash, 4122: replace(worker, pid=4122)}


def demo_fd_samples(now: float = DEMO_NOW) -> dict[int, list[tuple[float, int]]]:
    """Half an hour of FD counts per demo dashboard, one sample a minute.

    Dashboard 4100 leaks ~1.2 FD/min (a worker's three pipes every few minutes) up to
    the 218 of ``demo_snapshot``; dashboard 5200 is flat.
    """
    mac = [(now - 60.0 * (30 - i), 182 + (i * 6 // 5) // 3 * 3) for i in range(31)]
    mac[-1] = (now, 218)
    linux = [(now - 60.0 * (30 - i), 61) for i in range(31)]
    return {4100: mac, 5200: linux}


def demo_core(*, readonly: bool = False) -> FakeCore:
    """A FakeCore over ``demo_snapshot()`` with FD breakdowns for the details pane."""
    return FakeCore([demo_snapshot()], readonly=readonly, breakdowns=demo_breakdowns())
