"""Two-phase discovery and the assembly of a Snapshot.

Phase 1 reads the cheap facts of every process (one /proc read each on
Linux). Phase 2 reads argv only for processes whose name could be Hermes, and
FDs/limits only for the ones the rules matched. argv never changes for a
given (pid, create time, name), so it is cached across refreshes.
"""

from __future__ import annotations

import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hermes_top.core.classify import Candidate, classify
from hermes_top.core.model import (
    DashboardInfo,
    FdLimits,
    Identity,
    ProcessInfo,
    Role,
    SessionInfo,
    Snapshot,
    State,
)
from hermes_top.core.pins import PinRegistry
from hermes_top.core.platform import Platform
from hermes_top.core.procfs import RawProc
from hermes_top.core.redact import redact_argv
from hermes_top.core.rules import Match, could_be_hermes, match_argv

#: argv of processes younger than this is re-read every scan (see discover).
ARGV_SETTLE_S = 10.0

#: Cache key: exec() keeps pid and start time and usually changes the name.
_ArgvKey = tuple[int, float, str]


@dataclass
class ScanCache:
    """Facts that never change for a process, kept between scans, and its pins."""

    #: None when this core only reads (``hermes-top list``): no pidfds needed.
    pins: PinRegistry | None
    #: argv, what the rules made of it, and the redacted argv for display.
    argv: dict[_ArgvKey, tuple[tuple[str, ...], Match | None, tuple[str, ...]]] = field(
        default_factory=dict
    )
    usernames: dict[int, str] = field(default_factory=dict)
    uids: dict[_ArgvKey, int] = field(default_factory=dict)

    def prune(self, procs: dict[int, RawProc]) -> None:
        alive = {(p.pid, p.create_time, p.name) for p in procs.values()}
        for key in [k for k in self.argv if k not in alive]:
            del self.argv[key]
            self.uids.pop(key, None)

    def username(self, uid: int) -> str:
        name = self.usernames.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self.usernames[uid] = name
        return name


def _zombie_role(name: str) -> Role:
    return Role.TUI if name.startswith("node") else Role.UNKNOWN


def discover(
    platform: Platform, cache: ScanCache, now: float
) -> tuple[dict[int, RawProc], dict[int, Candidate]]:
    procs = platform.list_processes()
    found: dict[int, Candidate] = {}
    for proc in procs.values():
        if proc.status == "Z" or not could_be_hermes(proc.name):
            continue
        key = (proc.pid, proc.create_time, proc.name)
        cached = cache.argv.get(key)
        # A young process may be a fork that has not exec'd yet (python forking
        # python keeps the name): only trust the cache once it has settled.
        if cached is None or now - proc.create_time < ARGV_SETTLE_S:
            argv = platform.cmdline(proc.pid)
            if argv is None:
                continue  # gone, or unreadable: nothing we could act on
            match = match_argv(argv)
            cached = (argv, match, redact_argv(argv) if match else ())
            cache.argv[key] = cached
        argv, match, shown = cached
        if match is not None:
            # The uid is read once per process (a Hermes process does not setuid);
            # signals re-read it anyway before anything is sent.
            uid = cache.uids.get(key)
            full = platform.with_uid(proc) if uid is None else proc._replace(uid=uid)
            if full is not None:
                cache.uids[key] = full.uid
                found[proc.pid] = Candidate(full, argv, match, shown)
    # Zombies are listed only when a Hermes process is their parent: argv is gone.
    for proc in procs.values():
        if proc.status == "Z" and proc.ppid in found:
            full = platform.with_uid(proc)
            if full is not None:
                found[proc.pid] = Candidate(full, (), Match(role=_zombie_role(proc.name)), ())
    cache.prune(procs)
    return procs, found


def _reclaimable(
    platform: Platform,
    dashboard: int,
    infos: dict[int, ProcessInfo],
) -> tuple[int, bool]:
    """FDs of the dashboard that reaping its leaked workers would free."""
    leaked = [p for p in infos.values() if p.dashboard_pid == dashboard and p.is_leaked]
    if not leaked:
        return 0, False
    if platform.exact_reclaim:
        mine = platform.pipe_inodes(dashboard)
        if mine is not None:
            held: set[int] = set()
            for proc in leaked:
                theirs = platform.pipe_inodes(proc.pid)
                if theirs:
                    held.update(theirs.values())
            return sum(1 for inode in mine.values() if inode in held), False
    direct = sum(1 for p in leaked if p.ppid == dashboard)
    return 3 * direct, True


def _visible_sessions(
    sessions: tuple[SessionInfo, ...], infos: dict[int, ProcessInfo]
) -> tuple[SessionInfo, ...]:
    """Sessions restricted to processes still in the snapshot (scope, races)."""
    out = []
    for s in sessions:
        pids = tuple(p for p in s.pids if p in infos)
        if pids:
            tui = s.tui_pid if s.tui_pid in infos else None
            out.append(SessionInfo(s.key, s.session_key, tui, pids))
    return tuple(out)


def build_snapshot(
    platform: Platform,
    cache: ScanCache,
    *,
    now: Callable[[], float] = time.time,
    scope: Callable[[ProcessInfo], bool] | None = None,
) -> Snapshot:
    procs, found = discover(platform, cache, now())
    pins = (
        cache.pins.update(procs, {p: c.raw for p, c in found.items()}, platform.list_one)
        if cache.pins is not None
        else {}
    )
    verdicts, sessions = classify(procs, found)
    taken_at = now()
    infos: dict[int, ProcessInfo] = {}
    errors: list[str] = []
    for pid in sorted(found):
        cand, verdict = found[pid], verdicts[pid]
        raw = cand.raw
        num_fds: int | None
        fd_error: str | None
        if verdict.state is State.ZOMBIE:
            num_fds, fd_error = None, "zombie: holds no FDs"
        else:
            num_fds, fd_error = platform.num_fds(pid)
            if fd_error == "process gone":
                continue  # exited during the scan
        infos[pid] = ProcessInfo(
            identity=Identity(raw.pid, raw.create_time, raw.uid, cand.argv, pins.get(pid, 0)),
            ppid=raw.ppid,
            role=cand.role,
            state=verdict.state,
            reason=verdict.reason,
            session_key=verdict.session_key,
            dashboard_pid=verdict.dashboard_pid,
            host_pid=verdict.host_pid,
            username=cache.username(raw.uid),
            name=raw.name,
            status=raw.status,
            age_s=max(0.0, taken_at - raw.create_time),
            num_fds=num_fds,
            num_fds_error=fd_error,
            cmdline=cand.shown,  # redacted; () for a zombie: its argv is gone
        )
    if scope is not None:
        infos = {pid: p for pid, p in infos.items() if scope(p)}
    dashboards: list[DashboardInfo] = []
    for pid, info in infos.items():
        if info.role is not Role.DASHBOARD:
            continue
        match = found[pid].match
        try:
            limits = platform.nofile_limits(found[pid].raw, match.profile)
        except Exception as err:  # a limit we cannot read must not break the scan
            limits = FdLimits(None, None, "unknown", True, f"error: {err}")
            errors.append(f"limits of dashboard {pid}: {err}")
        reclaim, estimate = _reclaimable(platform, pid, infos)
        dashboards.append(
            DashboardInfo(
                pid=pid,
                num_fds=info.num_fds,
                limits=limits,
                reclaimable_fds=reclaim,
                reclaimable_is_estimate=estimate,
                sessions=_visible_sessions(sessions.get(pid, ()), infos),
                port=match.port,
                profile=match.profile,
            )
        )
    return Snapshot(
        taken_at=taken_at,
        platform=platform.name,
        processes=tuple(infos.values()),
        dashboards=tuple(dashboards),
        errors=tuple(errors),
    )
