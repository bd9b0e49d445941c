"""Which of a dashboard's inbound connections its own tabs hold (its node tabs
talk to it over its own port: those are not browsers).

Finding out means reading every FD of every tab below the dashboard (~1,300
readlinks for 4 dashboards and 44 tabs, more than the rest of a tick). The
answer only changes when a connection does, so an incremental scan keeps it:
a socket inode names one socket while it is open, and every peer asked about
is open (it is in this tick's TCP table). Each tab is read again when

- a peer is neither a socket a tab held nor one already found held by nobody
  below (a new connection, a tab's or a browser's),
- the set of tabs changed (a new tab may hold a peer seen as a browser's), or
- the answer is TABS_REUSE_S old.

An answer read fresh is exact; a kept one is the same answer, since none of
what it was made from can have changed without one of the above.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from hermes_top.core.procfs import socket_inodes

#: A tab: (pid, create time).
TabKey = tuple[int, float]
#: An answer is read again at least this often (as the pipe cache: budget.py).
TABS_REUSE_S = 60.0


@dataclass(frozen=True)
class _Known:
    read_at: float
    tabs: frozenset[TabKey]
    #: Every socket inode the tabs held then.
    held: frozenset[int]
    #: Peers asked about then that no tab held.
    outside: frozenset[int]


@dataclass
class TabSockets:
    """Per dashboard (pid, create time): what its tabs were last seen holding."""

    known: dict[tuple[int, float], _Known] = field(default_factory=dict)

    def held_below(
        self,
        dashboard: tuple[int, float],
        tabs: Collection[TabKey],
        peers: set[int],
        now: float,
        read: Callable[[int], dict[int, str]],
        *,
        reuse: bool,
    ) -> set[int]:
        """The ones of ``peers`` (socket inodes) that ``tabs`` hold. ``read``: a
        process's FD targets (raises when it cannot be read: it holds none).
        ``reuse`` False (one-shot and planning scans): read, whatever is kept."""
        if not peers:
            return set()
        tab_set = frozenset(tabs)
        seen = self.known.get(dashboard) if reuse else None
        if (
            seen is not None
            and seen.tabs == tab_set
            and now - seen.read_at < TABS_REUSE_S
            and peers <= seen.held | seen.outside
        ):
            return peers & seen.held
        held: set[int] = set()
        for pid, _ in tabs:
            try:
                held |= socket_inodes(read(pid))
            except Exception:  # gone, denied: it holds nothing we can see
                continue
        self.known[dashboard] = _Known(now, tab_set, frozenset(held), frozenset(peers - held))
        return peers & held

    def forget_except(self, alive: Collection[tuple[int, float]]) -> None:
        for gone in [k for k in self.known if k not in alive]:
            del self.known[gone]
