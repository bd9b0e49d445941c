"""Recover a leaking dashboard: reap what leaked below it, restart it through
whatever runs it, wait until it answers again, reap what the old one left.

The plan and the order of steps live here; *how* a dashboard is restarted
(launchd, systemd, its desktop app, or a relaunch of the same command) is the
``Supervisor`` that the CLI injects (hermes_top/service/supervisor.py): the
core never imports service control.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hermes_top.core import dashboard_api
from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import (
    ActionReport,
    DashboardInfo,
    ProcessInfo,
    ReapPlan,
    Remedy,
    Snapshot,
    State,
)
from hermes_top.core.problems import FdLevel, fd_level
from hermes_top.core.rules import facts_for


class RestartKind(enum.StrEnum):
    LAUNCHD = "launchd"
    SYSTEMD = "systemd"
    #: The desktop app respawns its backend: terminate it and wait, never relaunch.
    DESKTOP = "desktop"
    #: Started by hand (a shell, nohup, tmux): terminate, relaunch the same command.
    RELAUNCH = "relaunch"
    NONE = "none"


@dataclass(frozen=True)
class RestartMethod:
    """How one dashboard would be restarted, found from the process itself."""

    kind: RestartKind
    #: The exact command (secrets redacted), or what will be done, to show.
    command: str
    #: Where the method was found: the unit from the cgroup, the label ...
    detail: str
    #: False when it cannot be restarted here (``detail`` says why).
    possible: bool = True
    #: The core terminates it first (pinned, journaled) and the supervisor then
    #: relaunches it or waits for its app to: launchd and systemd stop it themselves.
    stop_first: bool = False
    #: What the supervisor needs to act (unit, label, argv, cwd ...): never shown.
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RestartResult:
    ok: bool
    detail: str
    #: The new dashboard's PID where the method learns it (a relaunch does).
    new_pid: int | None = None


class Supervisor(Protocol):
    """Finds and runs the restart of a dashboard (implemented in hermes_top/service)."""

    def method(self, dashboard: ProcessInfo, info: DashboardInfo) -> RestartMethod: ...

    def restart(
        self, dashboard: ProcessInfo, method: RestartMethod, *, grace_s: float
    ) -> RestartResult: ...


@dataclass(frozen=True)
class RecoverStep:
    """What recovering one dashboard will do."""

    dashboard: DashboardInfo
    process: ProcessInfo
    #: Leaked processes below it to reap first (with their subtrees).
    reap: tuple[ProcessInfo, ...]
    #: Left out of the reap, and why.
    excluded: tuple[tuple[ProcessInfo, str], ...]
    #: None when no restart is needed (remedy ``reap``).
    restart: RestartMethod | None
    #: What the restart ends: its open tabs and live workers, named.
    ends: tuple[str, ...]
    #: FDs it should hold afterwards (an estimate: it says so).
    expected_fds: int | None
    #: Everything below it when planned: what outlives a restart is reaped after.
    tree: tuple[ProcessInfo, ...] = ()

    def to_json(self) -> dict[str, Any]:
        restart = self.restart
        return {
            "dashboard_pid": self.dashboard.pid,
            "port": self.dashboard.port,
            "remedy": self.dashboard.remedy.value,
            "remedy_reason": self.dashboard.remedy_reason,
            "reap": [p.pid for p in self.reap],
            "excluded": [{"pid": p.pid, "why": why} for p, why in self.excluded],
            "restart": None
            if restart is None
            else {
                "how": restart.kind.value,
                "command": restart.command,
                "detail": restart.detail,
                "possible": restart.possible,
            },
            "ends": list(self.ends),
            "fds_now": self.dashboard.num_fds,
            "expected_fds": self.expected_fds,
        }


@dataclass(frozen=True)
class RecoverPlan:
    steps: tuple[RecoverStep, ...]
    #: Dashboards asked for that need nothing, or cannot be recovered, and why.
    skipped: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class RecoverOutcome:
    old_pid: int
    port: int | None
    new_pid: int | None
    #: The dashboard answered /api/status on its port again.
    answers: bool
    fds_before: int | None
    fds_after: int | None
    soft_limit: int | None
    reaped: ActionReport | None
    #: Reap of what the old dashboard left behind after its restart.
    leftovers: ActionReport | None
    restart: RestartResult | None
    ok: bool
    #: Why not ok, or a short summary.
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "old_pid": self.old_pid,
            "port": self.port,
            "new_pid": self.new_pid,
            "answers": self.answers,
            "fds_before": self.fds_before,
            "fds_after": self.fds_after,
            "fd_soft_limit": self.soft_limit,
            "reaped": self.reaped.to_json() if self.reaped else None,
            "leftovers": self.leftovers.to_json() if self.leftovers else None,
            "restart": None
            if self.restart is None
            else {"ok": self.restart.ok, "detail": self.restart.detail},
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RecoverReport:
    outcomes: tuple[RecoverOutcome, ...]

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)


def open_tabs(step_dashboard: DashboardInfo, procs: Sequence[ProcessInfo]) -> tuple[str, ...]:
    """What a restart of this dashboard ends, one line each (live tabs and workers)."""
    out = []
    for session in step_dashboard.sessions:
        live = [p for p in procs if p.pid in session.pids and p.state is State.LIVE]
        if live:
            tab = f"tab (node {session.tui_pid})" if session.tui_pid else "session"
            key = f" {session.session_key}" if session.session_key else ""
            out.append(f"{tab}{key}: {len(live)} process(es)")
    return tuple(out)


def needs_restart(remedy: Remedy) -> bool:
    return remedy in (Remedy.RESTART, Remedy.REAP_RESTART)


# --- planning and running -------------------------------------------------------------


class RecoverCore(Protocol):
    """What recovery needs of the core (Core provides it)."""

    def scan(self) -> Snapshot: ...

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ActionReport: ...

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan: ...

    def record(self, record: dict[str, Any]) -> bool: ...


def plan_recover(
    core: RecoverCore,
    snapshot: Snapshot,
    supervisor: Supervisor | None,
    dashboard_pid: int | None = None,
    *,
    restart_only: bool = False,
) -> RecoverPlan:
    """One step per dashboard whose remedy is not ``none`` (or just the one given).
    ``restart_only`` (``hermes-top restart --dashboard``): restart it, reap nothing."""
    steps: list[RecoverStep] = []
    skipped: list[tuple[int, str]] = []
    if dashboard_pid is not None and snapshot.dashboard(dashboard_pid) is None:
        return RecoverPlan((), ((dashboard_pid, "not a dashboard hermes-top can see"),))
    reap_plan = core.plan_reap(snapshot, include_stale=True)
    for dash in snapshot.dashboards:
        if dashboard_pid is not None and dash.pid != dashboard_pid:
            continue
        proc = snapshot.get(dash.pid)
        if proc is None:
            continue
        if dash.remedy is Remedy.NONE and dashboard_pid is None:
            continue
        tree = tuple(p for p in snapshot.processes if p.dashboard_pid == dash.pid)
        reap = tuple(p for p in reap_plan.targets if p.dashboard_pid == dash.pid)
        excluded = tuple((p, why) for p, why in reap_plan.excluded if p.dashboard_pid == dash.pid)
        if restart_only:
            reap, excluded = (), ()
        restart: RestartMethod | None = None
        asked = dashboard_pid is not None and dash.remedy is Remedy.NONE
        if needs_restart(dash.remedy) or asked or restart_only:
            restart = (
                supervisor.method(proc, dash)
                if supervisor is not None
                else RestartMethod(RestartKind.NONE, "", "no service control here", False)
            )
        if restart is not None and not restart.possible and not reap:
            skipped.append((dash.pid, f"cannot be restarted: {restart.detail}"))
            continue
        facts_idle = facts_for(dash.hermes_version).idle_fds
        if restart is not None:
            expected = facts_idle
        elif dash.num_fds is not None:
            expected = dash.num_fds - dash.reclaimable_fds
        else:
            expected = None
        steps.append(
            RecoverStep(
                dash,
                proc,
                reap,
                excluded,
                restart,
                open_tabs(dash, tree) if restart else (),
                expected,
                tree,
            )
        )
    return RecoverPlan(tuple(steps), tuple(skipped))


def run_recover(
    core: RecoverCore,
    plan: RecoverPlan,
    supervisor: Supervisor | None,
    *,
    grace_s: float,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RecoverReport:
    return RecoverReport(
        tuple(
            _recover_one(core, step, supervisor, grace_s, wait_s, clock, sleep)
            for step in plan.steps
        )
    )


def _recover_one(
    core: RecoverCore,
    step: RecoverStep,
    supervisor: Supervisor | None,
    grace_s: float,
    wait_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> RecoverOutcome:
    old, dash = step.process, step.dashboard
    reaped = core.reap(step.reap, grace_s=grace_s) if step.reap else None
    result: RestartResult | None = None
    if step.restart is not None:
        if supervisor is None or not step.restart.possible:
            result = RestartResult(False, f"not restarted: {step.restart.detail}")
        else:
            if not core.record(_restart_record(old, step.restart, "starting", None)):
                raise HermesTopError("cannot write the journal: the dashboard was not restarted")
            result = _stop(core, old, grace_s) if step.restart.stop_first else None
            if result is None:
                result = supervisor.restart(old, step.restart, grace_s=grace_s)
            core.record(_restart_record(old, step.restart, result.detail, result.new_pid))
    deadline = clock() + wait_s
    new_info, snapshot = _wait_for_dashboard(core, step, result, deadline, clock, sleep)
    leftovers = None
    if snapshot is not None and step.restart is not None:
        left = _left_behind(snapshot, step)
        if left:
            leftovers = core.reap(left, grace_s=grace_s)
    fds_after = new_info.num_fds if new_info else None
    soft = new_info.limits.soft if new_info else dash.limits.soft
    answers = new_info is not None
    why: list[str] = []
    if result is not None and not result.ok:
        why.append(result.detail)
    if new_info is None:
        why.append(f"no dashboard answers on port {dash.port} after {wait_s:g} s")
    elif fd_level(new_info.fd_ratio) is not FdLevel.OK:
        why.append(f"it still holds {fds_after} of {soft} FDs")
    if reaped is not None and not reaped.all_ended:
        why.append("not every leaked process ended (see the reap report)")
    return RecoverOutcome(
        old_pid=old.pid,
        port=dash.port,
        new_pid=new_info.pid if new_info else None,
        answers=answers,
        fds_before=dash.num_fds,
        fds_after=fds_after,
        soft_limit=soft,
        reaped=reaped,
        leftovers=leftovers,
        restart=result,
        ok=not why,
        detail="; ".join(why) or "recovered",
    )


def _stop(core: RecoverCore, old: ProcessInfo, grace_s: float) -> RestartResult | None:
    """Terminate the old dashboard through the pinned path; None once it ended."""
    report = core.reap([old], grace_s=grace_s)
    if report.all_ended:
        return None
    why = "; ".join(f"{r.outcome.value}: {r.detail}" for r in report.results)
    return RestartResult(False, f"the old dashboard did not end ({why}): not relaunched")


def _restart_record(
    old: ProcessInfo, method: RestartMethod, result: str, new_pid: int | None
) -> dict[str, Any]:
    return {
        "event": "restart",
        "pid": old.pid,
        "create_time": old.create_time,
        "uid": old.uid,
        "how": method.kind.value,
        "command": method.command,
        "result": result,
        "new_pid": new_pid,
    }


def _wait_for_dashboard(
    core: RecoverCore,
    step: RecoverStep,
    result: RestartResult | None,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[DashboardInfo | None, Snapshot | None]:
    """The dashboard that serves the old one's port (the same one after a reap
    alone, a new one after a restart) once /api/status answers there."""
    old = step.process
    port = step.dashboard.port
    restarted = step.restart is not None and result is not None and result.ok
    while True:
        snapshot = core.scan()
        for dash in snapshot.dashboards:
            proc = snapshot.get(dash.pid)
            if proc is None:
                continue
            same = proc.identity == old.identity
            if restarted and same:
                continue  # the old one has not gone yet
            if not restarted and not same:
                continue
            if not _serves(dash, step, proc, port, restarted):
                continue
            if dash.port and dashboard_api_answers(dash.port):
                return dash, snapshot
        if clock() >= deadline:
            return None, snapshot
        sleep(0.25)


def _serves(
    dash: DashboardInfo, step: RecoverStep, proc: ProcessInfo, port: int | None, restarted: bool
) -> bool:
    if step.restart is not None and step.restart.kind is RestartKind.DESKTOP and restarted:
        # The app starts its new backend on a port of its own choosing.
        return proc.ppid == step.process.ppid and proc.uid == step.process.uid
    return port is not None and dash.port == port and proc.uid == step.process.uid


def dashboard_api_answers(port: int) -> bool:
    try:
        return dashboard_api.fetch_status(port, timeout=1.0) is not None
    except dashboard_api.DashboardApiError:
        return False


def _left_behind(snapshot: Snapshot, step: RecoverStep) -> list[ProcessInfo]:
    """Processes of the old dashboard's tree that outlived it, now leaked
    (same identity as in the plan: a PID reused since is not one of them)."""
    old = {p.identity.pid: p.identity.create_time for p in step.tree}
    return [
        p
        for p in snapshot.processes
        if p.is_leaked and old.get(p.pid) == p.create_time and p.pid != step.process.pid
    ]
