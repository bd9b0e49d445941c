"""Turn a Snapshot into the ordered rows the process table shows.

Pure functions (no Textual): the table widget only diffs what these return.

Tree mode puts what needs action first: one group per state to act on
(orphan, abandoned, stale, zombie), each holding the processes in that state
with everything below them, then the live tree. The live tree follows the real
parent links (dashboard → tui → entry → worker), so an attach-path worker sits
straight under its dashboard and a spawn-path one under its entry. Processes
with no host above them that are not in a state to act on go to the orphan
group too ("no live host" is what an orphan is). Flat mode is one sorted list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from hermes_top.core.model import HOST_ROLES, ProcessInfo, Role, Snapshot, State

#: The states to act on, most urgent first: each gets a group in tree mode.
ACT_STATES = (State.ORPHAN, State.ABANDONED, State.STALE, State.ZOMBIE)
#: Key of the group row above the live tree (shown when a group is above it).
LIVE_GROUP_KEY = "group:live"


def group_key(state: State) -> str:
    return f"group:{state.value}"


#: Kept for callers that fold or tag "the orphans".
ORPHAN_GROUP_KEY = group_key(State.ORPHAN)

#: Urgency when sorting by state: higher is more urgent.
_URGENCY = {
    State.ORPHAN: 5,
    State.ABANDONED: 4,
    State.STALE: 3,
    State.ZOMBIE: 2,
    State.PARKED: 1,
    State.LIVE: 0,
}

Value = Callable[[ProcessInfo, Mapping[int, float]], object]

#: Sort columns in the order the table shows them, each with the value it
#: sorts by (None sorts last either way) and whether it is largest-first by default.
SORT_COLUMNS: dict[str, tuple[Value, bool]] = {
    "pid": (lambda p, cpu: p.pid, False),
    "state": (lambda p, cpu: _URGENCY[p.state], True),
    "age": (lambda p, cpu: p.age_s, True),
    "cpu": (lambda p, cpu: cpu.get(p.pid), True),
    "rss": (lambda p, cpu: p.rss_bytes, True),
    "fds": (lambda p, cpu: p.num_fds, True),
    "user": (lambda p, cpu: p.username, False),
}
SORT_ORDER = tuple(SORT_COLUMNS)


def _pid(p: ProcessInfo) -> int:
    return p.pid


ROLE_SHORT = {
    Role.DASHBOARD: "dash",
    Role.GATEWAY: "gateway",
    Role.CLI: "cli",
    Role.TUI: "tui",
    Role.GATEWAY_ENTRY: "entry",
    Role.SLASH_WORKER: "worker",
    Role.MCP: "mcp",
    Role.CHILD: "child",
    Role.UNKNOWN: "?",
}


@dataclass(frozen=True)
class Sort:
    """A sort column and whether its default direction is inverted (``I``)."""

    column: str = "pid"
    inverted: bool = False

    @property
    def descending(self) -> bool:
        natural = SORT_COLUMNS.get(self.column, SORT_COLUMNS["pid"])[1]
        return natural != self.inverted

    @property
    def arrow(self) -> str:
        """▼ largest (or most urgent, oldest) first, ▲ smallest first."""
        return "▼" if self.descending else "▲"

    def order(
        self, procs: Iterable[ProcessInfo], cpu: Mapping[int, float] | None = None
    ) -> list[ProcessInfo]:
        """``procs`` in this order; ties by pid, unknown values last."""
        items = list(procs)
        if len(items) < 2:
            return items  # most tree nodes have no child or one: nothing to sort
        if self.column not in SORT_COLUMNS or self.column == "pid":
            # PIDs are unique and never None: one sort, no ties to break.
            return sorted(items, key=_pid, reverse=self.descending)
        value = SORT_COLUMNS[self.column][0]
        cpu = cpu or {}
        by_pid = sorted(items, key=_pid)
        keyed = [(value(p, cpu), p) for p in by_pid]
        known = [(v, p) for v, p in keyed if v is not None]
        # reverse=True keeps equal values in pid order (Python's sort is stable both ways).
        known.sort(key=lambda vp: vp[0], reverse=self.descending)  # type: ignore[arg-type,return-value]
        return [p for _, p in known] + [p for v, p in keyed if v is None]


class Row(NamedTuple):
    """One table row: a process, or a group header (``proc`` is None). A named
    tuple: the tree makes one per shown row per tick, ~4x cheaper than a frozen
    dataclass."""

    key: str
    proc: ProcessInfo | None
    depth: int
    #: Tree guides drawn before the command, e.g. "│  └─ ".
    guide: str
    has_children: bool
    collapsed: bool
    #: Number of processes under a group row (shown in its label).
    group_size: int = 0
    #: The state a group row gathers (LIVE for the live tree's header).
    group: State | None = None
    #: Pids shown under a group row (the filter applied), parents first (what ``c`` tags).
    members: tuple[int, ...] = ()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


def row_key(pid: int) -> str:
    return str(pid)


def build_rows(
    snapshot: Snapshot,
    *,
    tree: bool = True,
    sort: Sort | str = "pid",
    collapsed: Iterable[str] = (),
    filter_text: str = "",
    cpu: Mapping[int, float] | None = None,
) -> list[Row]:
    """The rows to show, in order. ``collapsed`` holds keys of folded rows."""
    order = sort if isinstance(sort, Sort) else Sort(sort)
    folded = set(collapsed)
    visible = _matching(snapshot, filter_text)
    if not tree:
        procs = order.order((p for p in snapshot.processes if p.pid in visible), cpu)
        return [Row(row_key(p.pid), p, 0, "", False, False) for p in procs]

    children, roots, no_host = _forest(snapshot)
    groups, live_roots, detached = _groups(children, roots, no_host)
    rows: list[Row] = []
    memo: dict[int, bool] = {}

    def shown(p: ProcessInfo) -> bool:
        if p.pid not in memo:
            memo[p.pid] = p.pid in visible or any(shown(c) for c in children.get(p.pid, ()))
        return memo[p.pid]

    def walk(p: ProcessInfo, depth: int, lead: str, last: bool, top: bool) -> None:
        kids = order.order(
            (c for c in children.get(p.pid, ()) if c.pid not in detached and shown(c)), cpu
        )
        key = row_key(p.pid)
        guide = "" if top else lead + ("└─ " if last else "├─ ")
        is_folded = key in folded and bool(kids)
        rows.append(Row(key, p, depth, guide, bool(kids), is_folded))
        if is_folded:
            return
        child_lead = "" if top else lead + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, depth + 1, child_lead, i == len(kids) - 1, False)

    for state in ACT_STATES:
        tops = order.order((p for p in groups[state] if shown(p)), cpu)
        if not tops:
            continue
        members = tuple(p.pid for t in tops for p in _subtree(t, children, frozenset()) if shown(p))
        key = group_key(state)
        is_folded = key in folded
        rows.append(Row(key, None, 0, "", True, is_folded, len(members), state, members))
        if not is_folded:
            for i, p in enumerate(tops):
                walk(p, 1, "", i == len(tops) - 1, False)

    live = order.order((r for r in live_roots if shown(r)), cpu)
    if live and rows:
        members = tuple(p.pid for r in live for p in _subtree(r, children, detached) if shown(p))
        is_folded = LIVE_GROUP_KEY in folded
        rows.append(
            Row(LIVE_GROUP_KEY, None, 0, "", True, is_folded, len(members), State.LIVE, members)
        )
        if is_folded:
            return rows
    for root in live:
        walk(root, 0, "", True, True)
    return rows


def _groups(
    children: dict[int, list[ProcessInfo]],
    roots: list[ProcessInfo],
    no_host: list[ProcessInfo],
) -> tuple[dict[State, list[ProcessInfo]], list[ProcessInfo], frozenset[int]]:
    """(group tops by state, live roots, pids taken out of the live tree).

    A process in a state to act on becomes the top of its state's group, with
    everything below it; the first one met going down from a root wins.
    """
    groups: dict[State, list[ProcessInfo]] = {s: [] for s in ACT_STATES}
    for p in no_host:
        groups[p.state if p.state in groups else State.ORPHAN].append(p)
    live_roots: list[ProcessInfo] = []
    detached: set[int] = set()
    stack: list[ProcessInfo] = []
    for root in roots:
        if root.state in groups:
            groups[root.state].append(root)
        else:
            live_roots.append(root)
            stack.append(root)
    while stack:
        for kid in children.get(stack.pop().pid, ()):
            if kid.state in groups:
                groups[kid.state].append(kid)
                detached.add(kid.pid)
            else:
                stack.append(kid)
    return groups, live_roots, frozenset(detached)


def _subtree(
    top: ProcessInfo, children: dict[int, list[ProcessInfo]], detached: frozenset[int]
) -> list[ProcessInfo]:
    out: list[ProcessInfo] = []
    stack = [top]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(reversed([c for c in children.get(p.pid, ()) if c.pid not in detached]))
    return out


def _forest(
    snapshot: Snapshot,
) -> tuple[dict[int, list[ProcessInfo]], list[ProcessInfo], list[ProcessInfo]]:
    """(children by parent pid, host roots, tops of subtrees with no host)."""
    children: dict[int, list[ProcessInfo]] = {}
    roots: list[ProcessInfo] = []
    orphans: list[ProcessInfo] = []
    for p in snapshot.processes:
        parent = snapshot.get(p.ppid) if p.ppid != p.pid else None
        if parent is not None:
            children.setdefault(parent.pid, []).append(p)
        elif p.role in HOST_ROLES:
            roots.append(p)
        elif p.dashboard_pid is not None and snapshot.get(p.dashboard_pid) is not None:
            # Its direct parent is not a Hermes process but it still belongs to a
            # live dashboard: hang it there rather than call it an orphan.
            children.setdefault(p.dashboard_pid, []).append(p)
        else:
            orphans.append(p)
    return children, roots, orphans


def _matching(snapshot: Snapshot, text: str) -> set[int]:
    needle = text.strip().lower()
    if not needle:
        return {p.pid for p in snapshot.processes}
    return {p.pid for p in snapshot.processes if needle in search_text(p)}


def search_text(p: ProcessInfo) -> str:
    """What the filter matches: pid, role, state, user, session key and command."""
    parts = [str(p.pid), p.role.value, ROLE_SHORT[p.role], p.state.value, p.username]
    parts.append(p.session_key or "")
    parts.append(" ".join(p.cmdline))
    return " ".join(parts).lower()


def descendants(snapshot: Snapshot, pid: int) -> list[ProcessInfo]:
    """``pid`` and everything below it in the tree, parents first."""
    children, _, _ = _forest(snapshot)
    found = (snapshot.get(p) for p in _subtree_of(pid, children))
    return [p for p in found if p is not None]


def _subtree_of(pid: int, children: dict[int, list[ProcessInfo]]) -> list[int]:
    out: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(c.pid for c in reversed(children.get(current, [])))
    return out


def group_members(snapshot: Snapshot, state: State) -> list[ProcessInfo]:
    """Everything the tree shows under ``state``'s group row, parents first."""
    rows = build_rows(snapshot)
    row = next((r for r in rows if r.key == group_key(state)), None)
    found = (snapshot.get(pid) for pid in (row.members if row else ()))
    return [p for p in found if p is not None]


def orphan_group(snapshot: Snapshot) -> list[ProcessInfo]:
    """Everything under the orphan group row."""
    return group_members(snapshot, State.ORPHAN)


def parent_chain(snapshot: Snapshot, pid: int, limit: int = 8) -> list[tuple[int, str]]:
    """[(pid, label)] from ``pid`` up through its known ancestors to the first unknown one."""
    chain: list[tuple[int, str]] = []
    seen: set[int] = set()
    current: int | None = pid
    while current is not None and current not in seen and len(chain) < limit:
        seen.add(current)
        proc = snapshot.get(current)
        if proc is None:
            chain.append((current, "init/launchd" if current == 1 else "not Hermes"))
            break
        chain.append((current, proc.role.value))
        current = proc.ppid if proc.ppid > 0 else None
    return chain


def short_session(key: str | None) -> str:
    """The random suffix of a session key ("…_a1b2c3" → "a1b2c3"), enough to tell them apart."""
    if not key:
        return ""
    return key.rsplit("_", 1)[-1][-6:]


def short_command(cmdline: tuple[str, ...], *, compact: bool = False) -> str:
    """argv with long paths shortened: the program's basename, "…/tui_dist/entry.js".

    ``compact`` (a narrow column) also drops the interpreter of ``python -m module``:
    the module and its arguments are what tell two rows apart.
    """
    if not cmdline:
        return ""
    program = os.path.basename(cmdline[0]) or cmdline[0]
    rest = cmdline[1:]
    if compact and program.startswith("python") and rest[:1] == ("-m",) and len(rest) > 1:
        program, rest = rest[1], rest[2:]
    parts = [program]
    for arg in rest:
        if "/" in arg and "://" not in arg and len(arg) > 24:
            tail = arg.rstrip("/").split("/")[-2:]
            arg = "…/" + "/".join(tail)
        parts.append(arg)
    return " ".join(parts)
