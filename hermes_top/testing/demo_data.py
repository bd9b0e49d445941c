"""Canned data for the fake core: one snapshot holding every state the UI draws.

Deterministic: a fixed clock, fixed PIDs, no host name and no real user in it.
The dashboards' remedies are judged by the product's own ``remedy_for``, so the
demo says what a real scan of the same tree would say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from hermes_top.core.model import (
    Confidence,
    DashboardInfo,
    FdBreakdown,
    FdBudget,
    FdLimits,
    Identity,
    ProcessInfo,
    Role,
    SessionInfo,
    Snapshot,
    State,
)
from hermes_top.core.problems import remedy_for, restart_frees
from hermes_top.core.rules import facts_for
from hermes_top.testing.fake_core import (
    DEMO_NOW,
    DEMO_UID,
    DEMO_USER,
    OTHER_UID,
    OTHER_USER,
    FakeCore,
)

_HOME = "/home/alice"
_VENV = f"{_HOME}/.hermes/hermes-agent/venv"
_PY = f"{_VENV}/bin/python3"
_ENTRY_JS = f"{_VENV}/lib/python3.11/site-packages/hermes_cli/tui_dist/entry.js"
_NEW_PY = f"{_HOME}/.local/share/hermes/venv/bin/python3"
_WATCHDOG = f"{_VENV}/lib/python3.11/site-packages/tools/mcp_stdio_watchdog.py"
_STATE_DB = f"{_HOME}/.hermes/state.db"

_KEY_SPAWN = "20260527_141503_a1b2c3"
_KEY_ATTACH = "20260528_093012_d4e5f6"
_KEY_GONE = "20260528_081500_5e1f0a"
_KEY_BUSY = "20260528_104420_9c8d7e"
_KEY_NEW = "20260528_110245_0f9e8d"
_KEY_PARKED = "20260528_113500_ab12cd"
_KEY_ORPHAN = "20260526_220114_77aa01"
_KEY_STUCK = "20260526_231502_be4c2d"
_KEY_BOB = "20260525_080000_c0ffee"
_MB = 1024 * 1024
_H = 3600.0


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
    rss_mb: int | None,
    session_key: str | None = None,
    dashboard_pid: int | None = None,
    host_pid: int | None = None,
    user: str = DEMO_USER,
    uid: int = DEMO_UID,
    status: str = "S",
    name: str | None = None,
    num_fds_error: str | None = None,
    evidence: Sequence[str] = (),
    confidence: Confidence | None = None,
) -> ProcessInfo:
    argv = tuple(cmdline)
    if confidence is None and state in (State.ORPHAN, State.STALE):
        confidence = Confidence.HIGH
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
        evidence=tuple(evidence),
        confidence=confidence,
        rss_bytes=None if rss_mb is None else rss_mb * _MB,
    )


def _old_dashboard(now: float, fds: int) -> list[ProcessInfo]:
    """Dashboard 4100 on hermes-agent 0.13.0, started by hand with a 256 FD limit."""
    d = 4100
    worker = [_PY, "-m", "tui_gateway.slash_worker", "--session-key"]
    below = partial(_proc, now=now, dashboard_pid=d)
    return [
        _proc(
            d, 812, Role.DASHBOARD, State.LIVE, "dashboard (started by hand in zsh 812)",
            [_PY, f"{_VENV}/bin/hermes", "dashboard", "--port", "9119", "--no-open"],
            now=now, age_s=2 * 24 * _H + 1800, num_fds=fds, rss_mb=182,
        ),
        below(
            4119, d, Role.SLASH_WORKER, State.STALE,
            f"older twin of 4122 for session {_KEY_SPAWN}: the restarted worker's "
            "predecessor never exited",
            [*worker, _KEY_SPAWN], age_s=5 * _H + 600, num_fds=8, rss_mb=61,
            session_key=_KEY_SPAWN, host_pid=d,
            evidence=("4122 has the same --session-key", "4122 is newer and alive"),
        ),
        below(
            4120, d, Role.TUI, State.LIVE, "chat tab (spawn path), held by its dashboard",
            ["node", "--expose-gc", _ENTRY_JS], age_s=5 * _H + 900, num_fds=23, rss_mb=96,
            session_key=_KEY_SPAWN, host_pid=d,
        ),
        below(
            4121, 4120, Role.GATEWAY_ENTRY, State.LIVE, "gateway of a live chat tab",
            [_PY, "-m", "tui_gateway.entry"], age_s=5 * _H + 898, num_fds=14, rss_mb=48,
            session_key=_KEY_SPAWN, host_pid=4120,
        ),
        below(
            4122, 4121, Role.SLASH_WORKER, State.LIVE, "current worker of a live session",
            [*worker, _KEY_SPAWN, "--model", "claude-sonnet"], age_s=420, num_fds=8,
            rss_mb=64, session_key=_KEY_SPAWN, host_pid=4121,
        ),
        below(
            4125, 4122, Role.MCP, State.LIVE, "MCP server of a live worker",
            [_PY, _WATCHDOG, "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", _HOME],
            age_s=410, num_fds=6, rss_mb=22, host_pid=4122,
        ),
        below(
            4126, 4125, Role.MCP, State.LIVE, "MCP server of a live worker",
            ["node", f"{_HOME}/.npm/_npx/5f3e/node_modules/.bin/mcp-server-filesystem", _HOME],
            age_s=409, num_fds=11, rss_mb=41, host_pid=4122,
        ),
        below(
            4130, d, Role.TUI, State.LIVE, "chat tab (attach path), kept for reconnects",
            ["node", "--expose-gc", _ENTRY_JS], age_s=1500, num_fds=21, rss_mb=91,
            session_key=_KEY_ATTACH, host_pid=d,
        ),
        below(
            4131, d, Role.SLASH_WORKER, State.LIVE, "worker of an attached session",
            [*worker, _KEY_ATTACH], age_s=1494, num_fds=8, rss_mb=63,
            session_key=_KEY_ATTACH, host_pid=d,
        ),
        below(
            4133, 4131, Role.CHILD, State.LIVE, "a tool its worker runs",
            ["rg", "--json", "TODO", f"{_HOME}/src/app"], age_s=3, num_fds=5, rss_mb=9,
            host_pid=4131,
        ),
        below(
            4140, d, Role.TUI, State.ZOMBIE,
            "defunct child: dashboard 4100 has not reaped it (restart the dashboard)",
            [], age_s=40, num_fds=None, rss_mb=None, host_pid=d, status="Z", name="node",
        ),
        below(
            4160, d, Role.SLASH_WORKER, State.ABANDONED,
            "its dashboard is alive but its tab is gone: nothing will talk to it again",
            [*worker, _KEY_GONE], age_s=3 * _H + 900, num_fds=8, rss_mb=60,
            session_key=_KEY_GONE, host_pid=d, confidence=Confidence.HIGH,
            evidence=(
                f"no tab holds session {_KEY_GONE}",
                "its tab (node 4158) exited 3h ago",
                "no CPU time for 3h",
            ),
        ),
        below(
            4170, d, Role.SLASH_WORKER, State.ABANDONED,
            "looks abandoned: no tab holds its session",
            [*worker, _KEY_BUSY], age_s=900, num_fds=8, rss_mb=66,
            session_key=_KEY_BUSY, host_pid=d, confidence=Confidence.LOW,
            evidence=(
                f"no tab holds session {_KEY_BUSY}",
                "but it used CPU 2 min ago: a turn may still be running",
                "0.13.0 cannot list its sessions to confirm",
            ),
        ),
    ]  # fmt: skip


def _new_dashboard(now: float) -> list[ProcessInfo]:
    """Dashboard 5200 on hermes-agent 0.19.0 (systemd unit): healthy, one tab parked."""
    d = 5200
    worker = [_NEW_PY, "-m", "tui_gateway.slash_worker", "--session-key"]
    below = partial(_proc, now=now, dashboard_pid=d, host_pid=d)
    return [
        _proc(
            d, 1, Role.DASHBOARD, State.LIVE,
            "dashboard (systemd --user hermes-dashboard.service)",
            [_NEW_PY, "-m", "hermes_cli.main", "-p", "work", "dashboard", "--port", "9121",
             "--host", "127.0.0.1"],
            now=now, age_s=3 * _H, num_fds=61, rss_mb=150,
        ),
        below(
            5210, d, Role.TUI, State.LIVE, "chat tab (attach path), open",
            ["node", "--expose-gc", f"{_HOME}/hermes-agent/ui-tui/dist/entry.js",
             "--gateway", "ws://127.0.0.1:9121/api/ws?token=<redacted>"],
            age_s=2 * _H, num_fds=19, rss_mb=88, session_key=_KEY_NEW,
        ),
        below(
            5211, d, Role.SLASH_WORKER, State.LIVE, "worker of an attached session",
            [*worker, _KEY_NEW], age_s=2 * _H - 6, num_fds=8, rss_mb=58,
            session_key=_KEY_NEW,
        ),
        below(
            5220, d, Role.TUI, State.PARKED,
            "closed tab kept for reconnects (keep-alive up to 30 min)",
            ["node", "--expose-gc", f"{_HOME}/hermes-agent/ui-tui/dist/entry.js"],
            age_s=1900, num_fds=17, rss_mb=84, session_key=_KEY_PARKED,
            evidence=("tab closed 6 min ago", "the dashboard keeps it 30 min (0.19.0)"),
        ),
        below(
            5221, d, Role.SLASH_WORKER, State.PARKED,
            "worker of a parked tab: ends with it",
            [*worker, _KEY_PARKED], age_s=1894, num_fds=8, rss_mb=57,
            session_key=_KEY_PARKED,
        ),
    ]  # fmt: skip


def _orphans(now: float) -> list[ProcessInfo]:
    """Processes with no live host: a worker with its tool, an entry, a stopped
    (stubborn) worker and another user's worker."""
    reparented = "reparented to 1 (init); no live dashboard, gateway or CLI above it"
    return [
        _proc(
            3001, 1, Role.SLASH_WORKER, State.ORPHAN, f"parent 2990 exited; {reparented}",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_ORPHAN],
            now=now, age_s=27 * _H + 720, num_fds=8, rss_mb=59, session_key=_KEY_ORPHAN,
            evidence=("parent 2990 exited", "no Hermes host among its ancestors"),
        ),
        _proc(
            3004, 3001, Role.CHILD, State.ORPHAN, "a tool of an orphaned worker",
            ["git", "fetch", "--quiet"], now=now, age_s=27 * _H + 700, num_fds=4, rss_mb=7,
        ),
        _proc(
            3002, 1, Role.GATEWAY_ENTRY, State.ORPHAN, f"parent tui 2989 exited; {reparented}",
            [_PY, "-m", "tui_gateway.entry", "--sidecar",
             "ws://127.0.0.1:9119/api/ws?token=<redacted>"],
            now=now, age_s=27 * _H + 730, num_fds=12, rss_mb=44, session_key=_KEY_ORPHAN,
        ),
        _proc(
            3003, 1, Role.SLASH_WORKER, State.ORPHAN,
            "no live host; stopped (SIGSTOP): ignores SIGTERM, the reap will need SIGKILL",
            [_PY, "-m", "tui_gateway.slash_worker", "--session-key", _KEY_STUCK],
            now=now, age_s=26 * _H, num_fds=8, rss_mb=58, session_key=_KEY_STUCK, status="T",
        ),
        _proc(
            3010, 1, Role.SLASH_WORKER, State.ORPHAN, "no live host; owned by another user",
            ["/opt/hermes/venv/bin/python3", "-m", "tui_gateway.slash_worker",
             "--session-key", _KEY_BOB],
            now=now, age_s=52 * _H, num_fds=None, num_fds_error="access denied", rss_mb=55,
            session_key=_KEY_BOB, user=OTHER_USER, uid=OTHER_UID,
        ),
    ]  # fmt: skip


def _dashboard(
    proc: ProcessInfo,
    procs: Sequence[ProcessInfo],
    limits: FdLimits,
    budget: FdBudget,
    reclaimable: int,
    version: str,
    profile: str | None,
    port: int,
    sessions: Sequence[tuple[str, int | None, tuple[int, ...]]],
) -> DashboardInfo:
    below = [p for p in procs if p.dashboard_pid == proc.pid]
    remedy, why = remedy_for(proc, limits, budget, below, reclaimable, version, facts_for(version))
    rss = {p.pid: p.rss_bytes or 0 for p in procs}
    return DashboardInfo(
        pid=proc.pid,
        num_fds=proc.num_fds,
        limits=limits,
        reclaimable_fds=reclaimable,
        reclaimable_is_estimate=False,
        sessions=tuple(
            SessionInfo(key, key, tui, pids, sum(rss[p] for p in pids))
            for key, tui, pids in sessions
        ),
        port=port,
        profile=profile,
        hermes_version=version,
        fd_budget=budget,
        restart_frees=restart_frees(budget),
        remedy=remedy,
        remedy_reason=why,
        rss_bytes=rss[proc.pid] + sum(rss[p.pid] for p in below),
    )


def demo_snapshot(now: float = DEMO_NOW, *, old_fds: int = 218) -> Snapshot:
    """One snapshot with every state and role the UI draws.

    - 4100 (hermes-agent 0.13.0, ``ulimit -n 256``) at ``old_fds`` FDs (~85%): a
      spawn-path tab (tui → entry → worker → MCP server) with a stale twin, an
      attach-path tab whose worker runs a tool, a zombie, an abandoned worker (high
      confidence) and one that only looks abandoned (low): remedy reap+restart;
    - 5200 (0.19.0, systemd, 1024/4096): an open tab whose argv carried a token
      (redacted, as the core hands it out) and a parked one: remedy none;
    - no host: a worker and its ``git`` child, an entry, a stopped worker, bob's worker.
    """
    old, new, orphans = _old_dashboard(now, old_fds), _new_dashboard(now), _orphans(now)
    procs = sorted([*old, *new, *orphans], key=lambda p: p.pid)
    old_budget = FdBudget(
        total=old_fds,
        std=3,
        live_pipes=9,
        leaked_pipes=9,
        dead_pipes=old_fds - 95,
        sqlite={_STATE_DB: 40, f"{_HOME}/.hermes/kanban.db": 4},
        sockets=24,
        ptys=4,
        other=2,
    )
    new_budget = FdBudget(
        total=61, std=3, live_pipes=12, sqlite={_STATE_DB: 3}, sockets=14, ptys=2, other=27
    )
    dashboards = (
        _dashboard(
            old[0],
            procs,
            FdLimits(256, 4096, "proc", False, "/proc/4100/limits (ulimit -n 256 in zsh 812)"),
            old_budget,
            0,  # 0.13.0 keeps the pipes of reaped workers: a reap frees none
            "0.13.0",
            None,
            9119,
            (
                (_KEY_SPAWN, 4120, (4119, 4120, 4121, 4122, 4125, 4126)),
                (_KEY_ATTACH, 4130, (4130, 4131, 4133)),
                (_KEY_GONE, None, (4160,)),
                (_KEY_BUSY, None, (4170,)),
            ),
        ),
        _dashboard(
            new[0],
            procs,
            FdLimits(1024, 4096, "proc", False, "/proc/5200/limits"),
            new_budget,
            0,
            "0.19.0",
            "work",
            9121,
            ((_KEY_NEW, 5210, (5210, 5211)), (_KEY_PARKED, 5220, (5220, 5221))),
        ),
    )
    return Snapshot(now, "linux", tuple(procs), dashboards)


def empty_snapshot(now: float = DEMO_NOW) -> Snapshot:
    return Snapshot(now, "linux", (), ())


def demo_breakdowns() -> dict[int, FdBreakdown]:
    """FD breakdowns for a few demo pids (the rest fall back to a total-only answer)."""
    worker = FdBreakdown(
        3001,
        8,
        {"pipe": 3, "file": 5},
        ((_STATE_DB, 1), (f"{_STATE_DB}-wal", 1), (f"{_STATE_DB}-shm", 1)),
        "/proc",
    )
    dash = FdBreakdown(
        4100,
        218,
        {"pipe": 141, "socket": 24, "file": 46, "tty": 7},
        ((_STATE_DB, 14), (f"{_STATE_DB}-wal", 13), (f"{_STATE_DB}-shm", 13)),
        "/proc",
    )
    return {3001: worker, 4100: dash, 4122: replace(worker, pid=4122)}


def demo_fd_samples(now: float = DEMO_NOW) -> dict[int, list[tuple[float, int]]]:
    """Half an hour of FD counts per demo dashboard, one sample a minute.

    Dashboard 4100 leaks ~1.2 FD/min (a worker's three pipes every few minutes) up to
    the 218 of ``demo_snapshot``; dashboard 5200 is flat.
    """
    old = [(now - 60.0 * (30 - i), 182 + (i * 6 // 5) // 3 * 3) for i in range(31)]
    old[-1] = (now, 218)
    new = [(now - 60.0 * (30 - i), 61) for i in range(31)]
    return {4100: old, 5200: new}


def demo_core(*, readonly: bool = False) -> FakeCore:
    """A FakeCore over ``demo_snapshot()`` with FD breakdowns for the details pane."""
    return FakeCore([demo_snapshot()], readonly=readonly, breakdowns=demo_breakdowns())
