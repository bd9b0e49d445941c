"""Hand-built snapshots for the doctor's process findings."""

from __future__ import annotations

from hermes_top.core.model import (
    DashboardInfo,
    FdLimits,
    Identity,
    ProcessInfo,
    Role,
    Snapshot,
    State,
)


def proc(pid: int, role: Role, state: State, ppid: int = 1) -> ProcessInfo:
    argv = ("python3", "-m", "tui_gateway.slash_worker", "--session-key", "20260527_141503_a1b2c3")
    return ProcessInfo(
        identity=Identity(pid, 1000.0, 501, argv),
        ppid=ppid,
        role=role,
        state=state,
        reason="test",
        session_key=None,
        dashboard_pid=None,
        host_pid=None,
        username="me",
        name="python3",
        status="Z" if state is State.ZOMBIE else "S",
        age_s=100.0,
        num_fds=8,
        num_fds_error=None,
        cmdline=argv,
    )


def dashboard(pid: int, num_fds: int, soft: int, reclaimable: int = 0) -> DashboardInfo:
    return DashboardInfo(
        pid=pid,
        num_fds=num_fds,
        limits=FdLimits(soft, None, "plist", True, "test"),
        reclaimable_fds=reclaimable,
        reclaimable_is_estimate=False,
        sessions=(),
    )


def snapshot(
    processes: tuple[ProcessInfo, ...] = (), dashboards: tuple[DashboardInfo, ...] = ()
) -> Snapshot:
    return Snapshot(taken_at=0.0, platform="darwin", processes=processes, dashboards=dashboards)
