"""Decide, for every Hermes process found, whether it is live, stale, orphaned,
abandoned, parked or a zombie — and say why in one line a person can act on
(abandoned and parked are judged in core/abandon.py, called from here).

Pure functions over the scan tables: no I/O, so every rule is easy to test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import replace

from hermes_top.core import abandon
from hermes_top.core.evidence import DashboardEvidence
from hermes_top.core.judge_clock import JudgeClock
from hermes_top.core.model import HOST_ROLES, LEAKED_STATES, Confidence, Role, SessionInfo, State
from hermes_top.core.procfs import RawProc
from hermes_top.core.verdict import Candidate, Verdict

#: Longest ancestor chain we follow (guards against loops in a racy table).
_MAX_DEPTH = 512


def ancestors(pid: int, procs: Mapping[int, RawProc]) -> list[RawProc]:
    """Live ancestors, nearest first. A parent only counts if it is not younger
    than its child (a younger one reused the parent's PID)."""
    chain: list[RawProc] = []
    child = procs.get(pid)
    seen = {pid}
    while child is not None and len(chain) < _MAX_DEPTH:
        parent = procs.get(child.ppid)
        if parent is None or parent.pid in seen or parent.create_time > child.create_time:
            break
        chain.append(parent)
        seen.add(parent.pid)
        child = parent
    return chain


def ancestor_chains(
    pids: Collection[int], procs: Mapping[int, RawProc]
) -> dict[int, list[RawProc]]:
    """``ancestors`` of each of ``pids``, equal to calling it for each one, but a
    chain shared by siblings is walked once (each found process's, every tick)."""
    memo: dict[int, list[RawProc]] = {}
    for pid in pids:
        if pid in memo:
            continue
        path: list[RawProc] = []  # pid and its ancestors whose chains are not known yet
        on_path: set[int] = set()
        tail: list[RawProc] = []
        child = procs.get(pid)
        while child is not None:
            path.append(child)
            on_path.add(child.pid)
            parent = procs.get(child.ppid)
            if parent is None or parent.create_time > child.create_time:
                break
            known = memo.get(parent.pid)
            if known is not None:
                # (It holds no PID of ``path``: a loop's PIDs are memoized together.)
                tail = [parent, *known]
                break
            if parent.pid in on_path or len(path) >= _MAX_DEPTH:
                # A loop in a racy table, or an absurd depth: the plain walk
                # knows where each one's chain must stop.
                for proc in path:
                    memo[proc.pid] = ancestors(proc.pid, procs)
                path = []
                break
            child = parent
        for proc in reversed(path):
            memo[proc.pid] = tail[:_MAX_DEPTH]
            tail = [proc, *memo[proc.pid]]
        memo.setdefault(pid, [])  # not in the table
    return {pid: memo[pid] for pid in pids}


def _describe(proc: RawProc | None, pid: int, found: Mapping[int, Candidate]) -> str:
    if proc is None:
        return f"PID {pid}"
    cand = found.get(proc.pid)
    what = cand.role.value if cand else proc.name
    return f"{what} {proc.pid}"


def _is_live_host(cand: Candidate | None) -> bool:
    return cand is not None and cand.role in HOST_ROLES and cand.raw.status != "Z"


def classify(
    procs: Mapping[int, RawProc],
    found: Mapping[int, Candidate],
    hidden: frozenset[int] = frozenset(),
    evidence: Mapping[int, DashboardEvidence] | None = None,
    now: float = 0.0,
    chains: Mapping[int, list[RawProc]] | None = None,
    clock: JudgeClock | None = None,
) -> tuple[dict[int, Verdict], dict[int, tuple[SessionInfo, ...]]]:
    """Verdict per found PID, and the sessions of each dashboard.

    ``hidden``: processes that could be Hermes hosts but whose argv we may not
    read; a worker below one is never called an orphan. ``evidence``: what each
    live dashboard says about its sessions (see core/abandon.py)."""
    verdicts: dict[int, Verdict] = {}
    if chains is None:
        chains = ancestor_chains(found, procs)

    def nearest_dashboard(pid: int) -> int | None:
        for anc in chains[pid]:
            cand = found.get(anc.pid)
            if cand is not None and cand.role is Role.DASHBOARD and cand.raw.status != "Z":
                return anc.pid
        return None

    # Pass 1: zombies, hosts, orphans; remember each worker's host.
    for pid, cand in found.items():
        raw = cand.raw
        dashboard = nearest_dashboard(pid)
        if raw.status == "Z":
            parent = found.get(raw.ppid)
            parent_role = parent.role.value if parent else "parent"
            verdicts[pid] = Verdict(
                State.ZOMBIE,
                f"defunct: exited but never waited for by its {parent_role} {raw.ppid}; "
                f"only that process can clear it (restart it)",
                raw.ppid,
                dashboard,
                None,
            )
            continue
        if cand.role in HOST_ROLES:
            verdicts[pid] = Verdict(State.LIVE, _host_reason(cand), None, dashboard, None)
            continue
        host, via = _find_host(cand, chains[pid], found)
        unseen = _hidden_ancestor(chains[pid], hidden, host)
        if unseen is not None:
            verdicts[pid] = Verdict(
                State.LIVE,
                f"cannot tell: above it runs {unseen.name} {unseen.pid}, whose command line "
                "we may not read (it may be its host)",
                None,
                dashboard,
                cand.match.session_key,
            )
            continue
        if host is None:
            parent_raw = procs.get(raw.ppid)
            if via is not None:
                why = f"its {_describe(via, via.pid, found)} has no live host either"
            else:
                why = "no live dashboard, gateway or hermes CLI above it"
            parent_text = _describe(parent_raw, raw.ppid, found)
            facts = ["no live dashboard, gateway or hermes CLI among its ancestors"]
            facts.append(f"parent: {parent_text}")
            watched = cand.match.watches
            if watched is not None and watched not in procs:
                facts.append(f"the PID its watchdog watches ({watched}) is gone")
            verdicts[pid] = Verdict(
                State.ORPHAN,
                f"{why}; parent is {parent_text}",
                None,
                None,
                cand.match.session_key,
                tuple(facts),
                Confidence.HIGH,
            )
        else:
            host_cand = found[host]
            verdicts[pid] = Verdict(
                State.LIVE,
                f"runs under {host_cand.role.value} {host}",
                host,
                dashboard,
                cand.match.session_key,
            )

    _mark_stale(found, verdicts)
    abandon.judge(found, verdicts, evidence or {}, clock or JudgeClock(now))
    _inherit_from_leaked_ancestors(found, verdicts, chains)
    sessions = _sessions(found, verdicts, chains)
    # Give tui/entry processes the key of their session's worker.
    for dash_sessions in sessions.values():
        for session in dash_sessions:
            for pid in session.pids:
                v = verdicts[pid]
                if v.session_key is None and session.session_key is not None:
                    verdicts[pid] = replace(v, session_key=session.session_key)
    return verdicts, sessions


def _host_reason(cand: Candidate) -> str:
    if cand.role is Role.DASHBOARD:
        port = f" on port {cand.match.port}" if cand.match.port else ""
        return f"dashboard{port}"
    if cand.role is Role.GATEWAY:
        return "gateway service"
    return "hermes CLI session"


def _find_host(
    cand: Candidate, chain: list[RawProc], found: Mapping[int, Candidate]
) -> tuple[int | None, RawProc | None]:
    """(nearest live host, None) or (None, the nearest Hermes worker ancestor)."""
    tui: int | None = None
    first_worker: RawProc | None = None
    for anc in chain:
        anc_cand = found.get(anc.pid)
        if anc_cand is None or anc_cand.raw.status == "Z":
            continue
        if _is_live_host(anc_cand):
            # A tui between us and the host is our host (it owns our pipes).
            if tui is not None and cand.role is not Role.TUI:
                return tui, None
            return anc.pid, None
        if anc_cand.role is Role.TUI and tui is None:
            tui = anc.pid
        if first_worker is None:
            first_worker = anc
    return None, first_worker


def _hidden_ancestor(
    chain: list[RawProc], hidden: frozenset[int], host: int | None
) -> RawProc | None:
    """The nearest unreadable ancestor below the host (or anywhere, with no host)."""
    for anc in chain:
        if anc.pid == host:
            return None
        if anc.pid in hidden:
            return anc
    return None


#: Roles that are found below another Hermes process rather than by argv alone.
_BELOW_ROLES = frozenset({Role.CHILD, Role.MCP})


def _inherit_from_leaked_ancestors(
    found: Mapping[int, Candidate],
    verdicts: dict[int, Verdict],
    chains: Mapping[int, list[RawProc]],
) -> None:
    """A process below a leaked worker is part of the leak (its MCP servers, its
    tools): it takes the worker's state, evidence and confidence. A process
    found below a live one says what it runs below."""
    for pid in sorted(found, key=lambda p: len(chains[p])):  # ancestors first
        v = verdicts[pid]
        if v.state is State.ZOMBIE or found[pid].role in HOST_ROLES:
            continue
        above = next((a.pid for a in chains[pid] if a.pid in found), None)
        if above is None:
            continue
        up = verdicts[above]
        if up.state in LEAKED_STATES and v.state not in LEAKED_STATES:
            what = f"{found[above].role.value} {above}"
            verdicts[pid] = replace(
                v,
                state=up.state,
                reason=f"below {up.state.value} {what}: {up.reason}",
                evidence=(f"below {up.state.value} {what}", *up.evidence),
                confidence=up.confidence,
                session_key=v.session_key or up.session_key,
            )
        elif found[pid].role in _BELOW_ROLES and v.state is State.LIVE:
            verdicts[pid] = replace(v, reason=f"below {found[above].role.value} {above}")


def _mark_stale(found: Mapping[int, Candidate], verdicts: dict[int, Verdict]) -> None:
    groups: dict[tuple[int, str], list[Candidate]] = defaultdict(list)
    for pid, cand in found.items():
        key = cand.match.session_key
        if cand.role is Role.SLASH_WORKER and key and verdicts[pid].state is State.LIVE:
            groups[(cand.raw.ppid, key)].append(cand)
    for (ppid, key), twins in groups.items():
        if len(twins) < 2:
            continue
        twins.sort(key=lambda c: (c.raw.create_time, c.raw.pid))
        newest = twins[-1]
        for old in twins[:-1]:
            v = verdicts[old.raw.pid]
            verdicts[old.raw.pid] = replace(
                v,
                state=State.STALE,
                reason=f"session {key} was restarted: newer worker {newest.raw.pid} "
                f"runs under the same parent {ppid}",
                session_key=key,
                evidence=(
                    f"newer worker {newest.raw.pid} has the same --session-key {key}",
                    f"both are children of {ppid}",
                ),
                confidence=Confidence.HIGH,
            )


def _sessions(
    found: Mapping[int, Candidate],
    verdicts: Mapping[int, Verdict],
    chains: Mapping[int, list[RawProc]],
) -> dict[int, tuple[SessionInfo, ...]]:
    """Group each dashboard's workers by tui (spawn path) or session key (attach path)."""
    by_tui: dict[int, list[int]] = defaultdict(list)
    tui_key: dict[int, str] = {}
    by_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    tuis: dict[int, int] = {}  # tui pid -> dashboard pid
    for pid, cand in found.items():
        v = verdicts[pid]
        if v.dashboard_pid is None or cand.role in HOST_ROLES or v.state is State.ZOMBIE:
            continue
        if cand.role is Role.TUI:
            tuis[pid] = v.dashboard_pid
            by_tui[pid].append(pid)
            continue
        tui = next(
            (a.pid for a in chains[pid] if (c := found.get(a.pid)) and c.role is Role.TUI), None
        )
        key = cand.match.session_key
        if tui is not None:
            by_tui[tui].append(pid)
            if key and tui not in tui_key:
                tui_key[tui] = key
        elif key:
            by_key[(v.dashboard_pid, key)].append(pid)
    sessions: dict[int, list[SessionInfo]] = defaultdict(list)
    for tui, pids in by_tui.items():
        if tui not in tuis:
            continue
        key = tui_key.get(tui)
        sessions[tuis[tui]].append(
            SessionInfo(key=key or f"tui-{tui}", session_key=key, tui_pid=tui, pids=tuple(pids))
        )
    for (dashboard, key), pids in by_key.items():
        sessions[dashboard].append(
            SessionInfo(key=key, session_key=key, tui_pid=None, pids=tuple(sorted(pids)))
        )
    return {d: tuple(sorted(s, key=lambda x: x.key)) for d, s in sessions.items()}
