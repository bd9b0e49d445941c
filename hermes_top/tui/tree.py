"""Turn a Snapshot into the ordered rows the process table shows.

Pure functions (no Textual): the table widget only diffs what these return.
Tree mode follows the real parent links (dashboard → tui → entry → worker), so an
attach-path worker sits straight under its dashboard and a spawn-path one under its
entry. Processes whose parent is not a Hermes process and that are not hosts
themselves go into one "orphans (no host)" group.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hermes_top.core.model import HOST_ROLES, ProcessInfo, Role, Snapshot, State

ORPHAN_GROUP_KEY = "orphans"
ORPHAN_GROUP_LABEL = "orphans (no host)"

# Most urgent first when sorting by state.
_STATE_RANK = {State.ORPHAN: 0, State.STALE: 1, State.ZOMBIE: 2, State.LIVE: 3}

#: Sort columns that ``s`` cycles through, with the key each uses.
SORT_KEYS: dict[str, Callable[[ProcessInfo], tuple[object, ...]]] = {
    "pid": lambda p: (p.pid,),
    "state": lambda p: (_STATE_RANK[p.state], p.pid),
    "age": lambda p: (-p.age_s, p.pid),
    "fds": lambda p: (-(p.num_fds if p.num_fds is not None else -1), p.pid),
    "user": lambda p: (p.username, p.pid),
}
SORT_ORDER = tuple(SORT_KEYS)

ROLE_SHORT = {
    Role.DASHBOARD: "dash",
    Role.GATEWAY: "gateway",
    Role.CLI: "cli",
    Role.TUI: "tui",
    Role.GATEWAY_ENTRY: "entry",
    Role.SLASH_WORKER: "worker",
    Role.UNKNOWN: "?",
}


@dataclass(frozen=True)
class Row:
    """One table row: a process, or the orphan group header (``proc`` is None)."""

    key: str
    proc: ProcessInfo | None
    depth: int
    #: Tree guides drawn before the command, e.g. "│  └─ ".
    guide: str
    has_children: bool
    collapsed: bool
    #: Number of processes under a group row (shown in its label).
    count: int = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


def row_key(pid: int) -> str:
    return str(pid)


def build_rows(
    snapshot: Snapshot,
    *,
    tree: bool = True,
    sort: str = "pid",
    collapsed: Iterable[str] = (),
    filter_text: str = "",
) -> list[Row]:
    """The rows to show, in order. ``collapsed`` holds keys of folded rows."""
    sort_key = SORT_KEYS.get(sort, SORT_KEYS["pid"])
    folded = set(collapsed)
    visible = _matching(snapshot, filter_text)
    if not tree:
        procs = sorted((p for p in snapshot.processes if p.pid in visible), key=sort_key)
        return [Row(row_key(p.pid), p, 0, "", False, False) for p in procs]

    children, roots, orphans = _forest(snapshot)
    rows: list[Row] = []

    def shown(p: ProcessInfo) -> bool:
        return p.pid in visible or any(shown(c) for c in children.get(p.pid, ()))

    def walk(p: ProcessInfo, depth: int, lead: str, last: bool, top: bool) -> None:
        kids = sorted((c for c in children.get(p.pid, ()) if shown(c)), key=sort_key)
        key = row_key(p.pid)
        guide = "" if top else lead + ("└─ " if last else "├─ ")
        is_folded = key in folded and bool(kids)
        rows.append(Row(key, p, depth, guide, bool(kids), is_folded))
        if is_folded:
            return
        child_lead = "" if top else lead + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, depth + 1, child_lead, i == len(kids) - 1, False)

    for root in sorted((r for r in roots if shown(r)), key=sort_key):
        walk(root, 0, "", True, True)

    group = sorted((o for o in orphans if shown(o)), key=sort_key)
    if group:
        group_folded = ORPHAN_GROUP_KEY in folded
        rows.append(
            Row(ORPHAN_GROUP_KEY, None, 0, "", True, group_folded, count=_count(group, children))
        )
        if not group_folded:
            for i, o in enumerate(group):
                walk(o, 1, "", i == len(group) - 1, False)
    return rows


def _count(tops: list[ProcessInfo], children: dict[int, list[ProcessInfo]]) -> int:
    return sum(1 + _count(children.get(p.pid, []), children) for p in tops)


def _forest(
    snapshot: Snapshot,
) -> tuple[dict[int, list[ProcessInfo]], list[ProcessInfo], list[ProcessInfo]]:
    """(children by parent pid, host roots, tops of orphaned subtrees)."""
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
    out: list[ProcessInfo] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        proc = snapshot.get(current)
        if proc is not None:
            out.append(proc)
        stack.extend(c.pid for c in reversed(children.get(current, [])))
    return out


def orphan_group(snapshot: Snapshot) -> list[ProcessInfo]:
    """Everything under the "orphans (no host)" group row."""
    _, _, tops = _forest(snapshot)
    return [d for t in sorted(tops, key=lambda p: p.pid) for d in descendants(snapshot, t.pid)]


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


def short_command(cmdline: tuple[str, ...]) -> str:
    """argv with long paths shortened: the program's basename, "…/tui_dist/entry.js"."""
    if not cmdline:
        return ""
    parts = [os.path.basename(cmdline[0]) or cmdline[0]]
    for arg in cmdline[1:]:
        if "/" in arg and "://" not in arg and len(arg) > 24:
            tail = arg.rstrip("/").split("/")[-2:]
            arg = "…/" + "/".join(tail)
        parts.append(arg)
    return " ".join(parts)
