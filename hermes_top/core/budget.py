"""Where a dashboard's FDs go, and what a reap or a restart would give back.

On Linux every FD of the dashboard is read (``/proc/PID/fd``); a pipe is told
apart by who holds its other end: a live process below the dashboard, a leaked
one, or nobody below it (a dead worker whose pipes the dashboard kept: only a
restart frees those). SQLite handles are counted per database. macOS shows
only what psutil can (the total and the database files), marked inexact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from hermes_top.core.escape import escape_control
from hermes_top.core.model import FdBudget, ProcessInfo
from hermes_top.core.platform import Platform

#: Suffixes of the files one SQLite database keeps open.
_SQLITE_SUFFIXES = ("-wal", "-shm", "-journal")
_SQLITE_EXTENSIONS = (".db", ".sqlite", ".sqlite3")


def sqlite_database(path: str) -> str | None:
    """The database a file belongs to (``state.db-wal`` → ``state.db``), or None."""
    for suffix in _SQLITE_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return path if path.endswith(_SQLITE_EXTENSIONS) else None


#: (pid, create time) -> (when read, FD count then, its pipe inodes by FD).
PipeCache = dict[tuple[int, float], tuple[float, int | None, dict[int, int] | None]]
#: How long a process's pipe inodes are reused while its FD count stays the same
#: (incremental scans only; they are what tells live, leaked and dead pipes apart).
PIPES_REUSE_S = 60.0


def fd_budget(
    platform: Platform,
    dashboard: ProcessInfo,
    below: Iterable[ProcessInfo],
    pipes: PipeCache | None = None,
    now: float = 0.0,
    targets: dict[int, str] | None = None,
) -> FdBudget | None:
    """The split of ``dashboard``'s FDs; None when they cannot be read.

    ``pipes`` (incremental scans): each process's pipe inodes, reused for up to
    PIPES_REUSE_S while its FD count is the one they were read with; without it,
    every process below is read now. ``targets``: the dashboard's FD targets,
    already read in this scan (None: read them, or they were unreadable)."""
    if targets is None:
        try:
            targets, _ = platform.fd_targets(dashboard.pid)
        except Exception:  # gone, denied, psutil errors: no split, the total still shows
            return None
    if not platform.exact_reclaim:
        return _inexact(dashboard, targets)
    holders = _pipe_holders(platform, below, pipes, now)
    kinds: Counter[str] = Counter()
    sqlite: Counter[str] = Counter()
    for fd, target in targets.items():
        if fd <= 2:
            kinds["std"] += 1
        elif target.startswith("pipe:["):
            leaked = holders.get(int(target[6:-1]))
            kinds["dead" if leaked is None else "leaked" if leaked else "live"] += 1
        elif target.startswith("socket:"):
            kinds["sockets"] += 1
        elif target.startswith(("/dev/ptmx", "/dev/pts/")):
            kinds["ptys"] += 1
        elif (db := sqlite_database(target)) is not None:
            sqlite[escape_control(db)] += 1  # file names are chosen by others: shown escaped
        else:
            kinds["other"] += 1
    return FdBudget(
        total=len(targets),
        std=kinds["std"],
        live_pipes=kinds["live"],
        leaked_pipes=kinds["leaked"],
        dead_pipes=kinds["dead"],
        sqlite=dict(sqlite),
        sockets=kinds["sockets"],
        ptys=kinds["ptys"],
        other=kinds["other"],
    )


def _pipe_holders(
    platform: Platform, below: Iterable[ProcessInfo], pipes: PipeCache | None, now: float
) -> dict[int, bool]:
    """pipe inode → True if only leaked processes below the dashboard hold it,
    False if a live one does."""
    holders: dict[int, bool] = {}
    for proc in below:
        inodes: dict[int, int] | None
        if pipes is None:
            inodes = platform.pipe_inodes(proc.pid)
        else:
            key = (proc.pid, proc.create_time)
            seen = pipes.get(key)
            if seen is None or seen[1] != proc.num_fds or now - seen[0] >= PIPES_REUSE_S:
                seen = pipes[key] = (now, proc.num_fds, platform.pipe_inodes(proc.pid))
            inodes = seen[2]
        for inode in (inodes or {}).values():
            holders[inode] = holders.get(inode, True) and proc.is_leaked
    return holders


def _inexact(dashboard: ProcessInfo, targets: Mapping[int, str]) -> FdBudget:
    sqlite: Counter[str] = Counter()
    for target in targets.values():
        if (db := sqlite_database(target)) is not None:
            sqlite[escape_control(db)] += 1
    return FdBudget(total=dashboard.num_fds or len(targets), sqlite=dict(sqlite), exact=False)
