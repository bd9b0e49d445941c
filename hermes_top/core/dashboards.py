"""Per-dashboard assembly for a scan: the evidence each live dashboard gives
about its sessions (before classification), then its FD budget, what a reap
and a restart would give back, its remedy and its memory (after)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hermes_top.core import evidence as ev_mod
from hermes_top.core.budget import PipeCache, fd_budget
from hermes_top.core.evidence import DashboardEvidence, EvidenceCache
from hermes_top.core.model import (
    DashboardInfo,
    FdBudget,
    FdLimits,
    ProcessInfo,
    Role,
    SessionInfo,
    State,
)
from hermes_top.core.platform import Platform
from hermes_top.core.problems import remedy_for, restart_frees
from hermes_top.core.procfs import RawProc, TcpSocket
from hermes_top.core.rules import ABANDON_MIN_AGE_S, facts_for
from hermes_top.core.tab_sockets import TabSockets
from hermes_top.core.verdict import Candidate

#: Processes below a dashboard whose own TCP connections to it are not a browser's.
_TAB_ROLES = frozenset({Role.TUI, Role.GATEWAY_ENTRY})


#: In incremental scans (the TUI), a dashboard's FD split and its connections
#: are read again at most this often: readlinks of every FD below a dashboard
#: cost more than the rest of a tick. A stale count can only lower a verdict's
#: confidence (the tabs no longer match it), never make one.
SLOW_FACTS_S = 5.0

_Key = tuple[int, float]


@dataclass
class DashboardCache:
    evidence: EvidenceCache = field(default_factory=EvidenceCache)
    environ: dict[_Key, Mapping[str, str] | None] = field(default_factory=dict)
    #: 0 for one-shot scans (every fact fresh), SLOW_FACTS_S for the TUI.
    reuse_s: float = 0.0
    connections: dict[_Key, tuple[float, tuple[int, ...], int | None]] = field(default_factory=dict)
    budgets: dict[_Key, tuple[float, FdBudget | None]] = field(default_factory=dict)
    #: Pipe inodes of the processes below dashboards (reused only when reuse_s > 0).
    pipes: PipeCache = field(default_factory=dict)
    #: Which inbound connections the tabs hold (reused only when reuse_s > 0).
    tab_sockets: TabSockets = field(default_factory=TabSockets)
    #: Each dashboard's FD targets read in this scan (its connections and its
    #: FD split both need them, and they are its many FDs): (when, targets or None).
    targets: dict[_Key, tuple[float, dict[int, str] | None]] = field(default_factory=dict)

    def fresh(self, table: Mapping[_Key, tuple[Any, ...]], key: _Key, now: float) -> bool:
        entry = table.get(key)
        return entry is not None and now - entry[0] < self.reuse_s

    def fd_targets(self, platform: Platform, key: _Key, now: float) -> dict[int, str] | None:
        """The dashboard's FD targets, read once per scan (``now``); None when unreadable."""
        entry = self.targets.get(key)
        if entry is None or entry[0] != now:
            try:
                targets: dict[int, str] | None = platform.fd_targets(key[0])[0]
            except Exception:  # gone, denied, psutil errors
                targets = None
            entry = self.targets[key] = (now, targets)
        return entry[1]


def by_dashboard(
    found: Mapping[int, Candidate], chains: Mapping[int, list[RawProc]]
) -> dict[int, list[int]]:
    """dashboard PID → the found processes below it (from each one's ancestors)."""
    out: dict[int, list[int]] = {}
    for pid in found:
        for anc in chains[pid]:
            cand = found.get(anc.pid)
            if cand is not None and cand.role is Role.DASHBOARD:
                out.setdefault(anc.pid, []).append(pid)
    return out


def collect_evidence(
    platform: Platform,
    cache: DashboardCache,
    found: Mapping[int, Candidate],
    chains: Mapping[int, list[RawProc]],
    now: float,
) -> dict[int, DashboardEvidence]:
    dashboards = [c for c in found.values() if c.role is Role.DASHBOARD and c.raw.status != "Z"]
    if not dashboards:
        cache.pipes.clear()
        cache.targets.clear()
        return {}
    sockets = platform.tcp_sockets() if cache.reuse_s == 0 or _stale(cache, dashboards, now) else []
    members = by_dashboard(found, chains)
    children: dict[int, list[Candidate]] = {}
    for c in found.values():
        if c.raw.status != "Z":
            children.setdefault(c.raw.ppid, []).append(c)
    out: dict[int, DashboardEvidence] = {}
    alive = []
    judged = []
    for dash in dashboards:
        pid, key = dash.raw.pid, (dash.raw.pid, dash.raw.create_time)
        alive.append(key)
        kids = children.get(pid, [])
        workers = [c for c in kids if c.role is Role.SLASH_WORKER]
        if not cache.fresh(cache.connections, key, now):
            ports, browsers = _connections(
                platform, cache, sockets, key, members.get(pid, ()), found, now
            )
            cache.connections[key] = (now, ports, browsers)
        _, ports, browsers = cache.connections[key]
        if sockets is None and dash.match.port:
            # macOS: the argv is all we have. On Linux only a port the dashboard's
            # own socket listens on is asked (an argv can name someone else's).
            ports = (dash.match.port,)
        if key not in cache.environ:
            cache.environ[key] = platform.environ(pid)
        # Ask the dashboard only when there is something to judge.
        ask = any(c.role is Role.TUI for c in kids) or any(
            now - c.raw.create_time >= ABANDON_MIN_AGE_S for c in workers
        )
        if not ask:
            version = cache.evidence.versions.get(key) or ev_mod.hermes_version(dash.argv)
            cache.evidence.versions.setdefault(key, version)
            out[pid] = DashboardEvidence(version, facts_for(version), ports, browsers)
            continue
        judged.append((dash, key, ports, browsers, workers))
    ev_mod.ask_due(cache.evidence, [(key, d.argv, ports) for d, key, ports, *_ in judged], now)
    for dash, key, ports, browsers, workers in judged:
        out[dash.raw.pid] = ev_mod.gather(
            cache.evidence,
            key,
            argv=dash.argv,
            uid=dash.raw.uid,
            profile=dash.match.profile,
            ports=ports,
            browser_connections=browsers,
            worker_keys=[w.match.session_key for w in workers if w.match.session_key],
            environ=cache.environ[key],
            now=now,
        )
    out = {d.raw.pid: out[d.raw.pid] for d in dashboards}  # in the dashboards' order
    cache.evidence.prune(alive)
    cache.tab_sockets.forget_except(alive)
    keep = set(alive)
    for table in (cache.environ, cache.connections, cache.budgets, cache.targets):
        for gone in [k for k in table if k not in keep]:
            del table[gone]
    if cache.pipes:
        found_keys = {(c.raw.pid, c.raw.create_time) for c in found.values()}
        for gone in [k for k in cache.pipes if k not in found_keys]:
            del cache.pipes[gone]
    return out


def _stale(cache: DashboardCache, dashboards: list[Candidate], now: float) -> bool:
    keys = ((d.raw.pid, d.raw.create_time) for d in dashboards)
    return any(not cache.fresh(cache.connections, key, now) for key in keys)


def _connections(
    platform: Platform,
    cache: DashboardCache,
    sockets: list[TcpSocket] | None,
    key: _Key,
    members: Sequence[int],
    found: Mapping[int, Candidate],
    now: float,
) -> tuple[tuple[int, ...], int | None]:
    if sockets is None:
        return (), None  # macOS: nothing to match, so no tab is read either
    targets = cache.fd_targets(platform, key, now) or {}
    tabs = [
        (found[pid].raw.pid, found[pid].raw.create_time)
        for pid in members
        if found[pid].role in _TAB_ROLES
    ]

    def held_below(peers: set[int]) -> set[int]:
        return cache.tab_sockets.held_below(
            key, tabs, peers, now, lambda pid: platform.fd_targets(pid)[0], reuse=cache.reuse_s > 0
        )

    return ev_mod.connections(sockets, targets, held_below)


def dashboard_info(
    platform: Platform,
    cache: DashboardCache,
    now: float,
    info: ProcessInfo,
    cand: Candidate,
    infos: Mapping[int, ProcessInfo],
    mine: list[ProcessInfo],
    sessions: tuple[SessionInfo, ...],
    evidence: DashboardEvidence | None,
    errors: list[str],
) -> DashboardInfo:
    """``mine``: the processes of ``infos`` below this dashboard (see ``members``)."""
    pid = info.pid
    try:
        limits = platform.nofile_limits(cand.raw, cand.match.profile)
    except Exception as err:  # a limit we cannot read must not break the scan
        limits = FdLimits(None, None, "unknown", True, f"error: {err}")
        errors.append(f"limits of dashboard {pid}: {err}")
    key = (pid, info.create_time)
    if not cache.fresh(cache.budgets, key, now):
        pipes = cache.pipes if cache.reuse_s > 0 else None
        targets = cache.fd_targets(platform, key, now)
        cache.budgets[key] = (now, fd_budget(platform, info, mine, pipes, now, targets))
    budget = cache.budgets[key][1]
    version = evidence.version if evidence else None
    facts = evidence.facts if evidence else facts_for(None)
    leaked_children = [p for p in mine if p.is_leaked and p.ppid == pid]
    if budget is not None and budget.exact:
        reclaim, estimate = (budget.leaked_pipes if facts.reap_frees_pipes else 0), False
    else:
        # macOS: no pipe identities; each leaked direct child holds 3 of its pipe ends.
        reclaim, estimate = (3 * len(leaked_children) if facts.reap_frees_pipes else 0), True
    remedy, reason = remedy_for(info, limits, budget, mine, reclaim, version, facts)
    return DashboardInfo(
        pid=pid,
        num_fds=info.num_fds,
        limits=limits,
        reclaimable_fds=reclaim,
        reclaimable_is_estimate=estimate,
        sessions=_with_memory(sessions, infos),
        port=(evidence.ports[0] if evidence and evidence.ports else None) or cand.match.port,
        profile=cand.match.profile,
        hermes_version=version,
        fd_budget=budget,
        restart_frees=restart_frees(budget),
        remedy=remedy,
        remedy_reason=reason,
        rss_bytes=sum(p.rss_bytes or 0 for p in (info, *mine) if p.state is not State.ZOMBIE),
    )


def members(infos: Mapping[int, ProcessInfo]) -> dict[int, list[ProcessInfo]]:
    """dashboard PID -> the processes whose verdict puts them below it."""
    out: dict[int, list[ProcessInfo]] = {}
    for p in infos.values():
        if p.dashboard_pid is not None and p.dashboard_pid != p.pid:
            out.setdefault(p.dashboard_pid, []).append(p)
    return out


def _with_memory(
    sessions: tuple[SessionInfo, ...], infos: Mapping[int, ProcessInfo]
) -> tuple[SessionInfo, ...]:
    """Sessions restricted to processes still in the snapshot (scope, races),
    with the memory of their processes."""
    out = []
    for s in sessions:
        pids = tuple(p for p in s.pids if p in infos)
        if pids:
            tui = s.tui_pid if s.tui_pid in infos else None
            rss = sum(infos[p].rss_bytes or 0 for p in pids)
            out.append(SessionInfo(s.key, s.session_key, tui, pids, rss))
    return tuple(out)
