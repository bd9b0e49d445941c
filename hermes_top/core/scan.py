"""Two-phase discovery and the assembly of a Snapshot.

Phase 1 reads the cheap facts of every process (one /proc read each on
Linux). Phase 2 reads argv only for processes whose name could be Hermes, and
FDs/limits only for the ones the rules matched. argv never changes for a
given (pid, create time, name), so it is cached across refreshes.
"""

from __future__ import annotations

import dataclasses
import math
import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hermes_top.core.classify import ancestor_chains, classify
from hermes_top.core.dashboards import (
    SLOW_FACTS_S,
    DashboardCache,
    collect_evidence,
    dashboard_info,
    members,
)
from hermes_top.core.escape import escape_argv, escape_control
from hermes_top.core.model import (
    Identity,
    ProcessInfo,
    Role,
    Snapshot,
    State,
    aged,
    frozen_record,
)
from hermes_top.core.pinned import PinRegistry
from hermes_top.core.platform import Platform, ProcessTable
from hermes_top.core.procfs import RawProc
from hermes_top.core.redact import redact_argv
from hermes_top.core.rules import DESCENDANT_ROOTS, Match, could_be_hermes, match_argv, match_child
from hermes_top.core.verdict import Candidate, Verdict
from hermes_top.core.verdict_memo import VerdictMemo

#: argv of processes younger than this is re-read every scan (see discover).
ARGV_SETTLE_S = 10.0
#: How often an incremental scan still reads every process: a process that
#: exec'd into a Hermes shape, or a PID reused by one, shows up within this.
#: The others are read again a slice per tick (core/rolling.py), at most
#: MAX_ROLLING_PER_S a second: past 2,500 processes a cycle takes longer than
#: FULL_PASS_S (20 s at 10,000), so the cost follows the Hermes processes.
FULL_PASS_S = 5.0
MAX_ROLLING_PER_S = 500.0
#: The rolling pass while the kernel reports every exec (core/exec_events.py):
#: only a backstop then, for what no event tells (an argv rewritten in place).
BACKSTOP_PASS_S = 60.0
#: At most this many processes below Hermes ones are shown (a fork bomb below a
#: worker must not make every scan unbounded).
MAX_DESCENDANTS = 4096

#: Slow facts are read again in this many groups, one per SLOW_FACTS_S / slots.
_FACT_SLOTS = 5

#: Cache key: exec() keeps pid and start time and usually changes the name.
_ArgvKey = tuple[int, float, str]


@dataclass
class ScanCache:
    """Facts that never change for a process, kept between scans, and its pins."""

    #: None when this core only reads (``hermes-top list``): no pidfds needed.
    pins: PinRegistry | None
    #: argv, what the rules made of it, and when it was read.
    argv: dict[_ArgvKey, tuple[tuple[str, ...], Match | None, float]] = field(default_factory=dict)
    #: argv redacted and escaped for display (candidates only).
    shown: dict[_ArgvKey, tuple[str, ...]] = field(default_factory=dict)
    #: Each Hermes process found last tick, with the table entry it was made
    #: from: while that entry is the same object (its stat line did not change)
    #: and its argv, cached or read again, is the same tuple, the candidate is reused.
    made: dict[int, tuple[RawProc, Candidate]] = field(default_factory=dict)
    #: Each record of last incremental tick, with what it was built from: while
    #: the candidate and the verdict are the same objects and its facts and pin
    #: are equal, only its age moves (``model.aged``).
    built: dict[int, tuple[Candidate, Verdict, tuple[object, ...], ProcessInfo]] = field(
        default_factory=dict
    )
    #: Last incremental tick's classification (core/verdict_memo.py).
    verdicts: VerdictMemo = field(default_factory=VerdictMemo)
    usernames: dict[int, str] = field(default_factory=dict)
    #: What each dashboard said about its sessions, its version, its environment.
    dashboards: DashboardCache = field(default_factory=DashboardCache)
    uids: dict[_ArgvKey, int] = field(default_factory=dict)
    #: Incremental scans (the TUI): between full passes only new PIDs, young ones,
    #: the Hermes processes found last time and their ancestors are read again.
    incremental: bool = False
    #: The process table kept between ticks, what must be read fresh next time,
    #: when the last full pass was.
    reader: ProcessTable | None = None
    watch: set[int] = field(default_factory=set)
    #: PID -> start time of processes younger than ARGV_SETTLE_S: a fork may
    #: still exec (its name and argv change), so they are read every tick.
    young: dict[int, float] = field(default_factory=dict)
    full_at: float = float("-inf")
    #: When the last tick read its slice, and how many other processes a second
    #: are read again (0: only at full passes; a test can pin that).
    tick_at: float = float("-inf")
    rolling_per_s: float = MAX_ROLLING_PER_S
    pruned_cycle: int = 0
    #: Whether the table was asked to listen for the kernel's exec events
    #: (it does where it can: root, Linux).
    execs_asked: bool = False

    def next_table(
        self, platform: Platform, now: float
    ) -> tuple[dict[int, RawProc], set[int] | None]:
        """This tick's process table, and the PIDs read in this tick (None: a full
        pass, every process was read)."""
        if self.reader is None:
            self.reader = platform.process_table()
        if self.incremental and not self.execs_asked:
            # Once per table, before its first incremental read (a fresh scan may
            # have made the table): an exec from then on is reported, not missed.
            self.execs_asked = True
            self.reader.track_execs()
        fresh: set[int] | None
        if not self.incremental or self.full_at == float("-inf"):
            self.reader.read_all()
            self.full_at = now
            fresh = None
        else:
            fresh = self.reader.update(
                self.watch, self._slice(now), could_be_hermes, young=self.young.keys()
            )
            if len(fresh) >= len(self.reader.procs):
                fresh = None  # the table was read whole (a small one, or after a failure)
                self.full_at = now
        self.tick_at = now
        procs = self.reader.procs
        if self.incremental:
            # Who is young is taken from what was read: the others did not change.
            for pid in procs if fresh is None else fresh:
                if now - procs[pid].create_time < ARGV_SETTLE_S:
                    self.young[pid] = procs[pid].create_time
            for pid, start in list(self.young.items()):
                seen = procs.get(pid)
                if seen is None or seen.create_time != start or now - start >= ARGV_SETTLE_S:
                    del self.young[pid]
        return procs, fresh

    def _slice(self, now: float) -> int:
        """How many of the other processes this tick reads again: all of them
        once per FULL_PASS_S (BACKSTOP_PASS_S while every exec is reported),
        never more than ``rolling_per_s`` a second."""
        assert self.reader is not None
        period = self.pass_period()
        elapsed = min(max(now - self.tick_at, 0.0), period)
        count = len(self.reader.procs)
        rate = min(count / period, self.rolling_per_s)
        return math.ceil(rate * elapsed)

    def pass_period(self) -> float:
        """How long what a process showed last is trusted before it is read again
        (its comm and stat in the rolling pass, its argv once settled):
        FULL_PASS_S, or BACKSTOP_PASS_S while the kernel reports every exec. Then
        only an argv rewritten in place can change unseen, which no Hermes release
        does (the 0.13 TUI sets process.title on Windows only), and every signal
        compares argv again first (core/pinned.py)."""
        tracked = self.reader is not None and self.reader.execs_tracked
        return BACKSTOP_PASS_S if tracked else FULL_PASS_S

    def cycle_done(self) -> bool:
        """True once per rolling cycle: every process was read again since last time."""
        if self.reader is None or self.reader.cycles == self.pruned_cycle:
            return False
        self.pruned_cycle = self.reader.cycles
        return True

    #: FD count and RSS of each process, and when they were read (incremental scans).
    facts: dict[_ArgvKey, tuple[float, int | None, str | None, int | None]] = field(
        default_factory=dict
    )

    def facts_of(
        self, platform: Platform, cand: Candidate, now: float
    ) -> tuple[int | None, str | None, int | None]:
        """(FD count, why not, RSS). A dashboard's are read every tick (its gauge);
        another process's are reused for SLOW_FACTS_S in incremental scans."""
        raw = cand.raw
        key = (raw.pid, raw.create_time, raw.name)
        cached = self.facts.get(key)
        slow = self.incremental and cand.role is not Role.DASHBOARD
        if cached is None or not slow or now - cached[0] >= SLOW_FACTS_S:
            num_fds, why = platform.num_fds(raw.pid)
            read_at = now
            if cached is None and slow:
                # Spread by PID: processes found in one tick must not all be
                # read again in one later tick (each is read early, never late).
                read_at -= (raw.pid % _FACT_SLOTS) * SLOW_FACTS_S / _FACT_SLOTS
            cached = (read_at, num_fds, why, platform.rss(raw.pid))
            self.facts[key] = cached
        return cached[1], cached[2], cached[3]

    def prune(self, procs: dict[int, RawProc]) -> None:
        """Forget the processes no longer in ``procs`` (the cache holds the
        could-be-Hermes ones: walked, not the whole table)."""

        def alive(key: _ArgvKey) -> bool:
            p = procs.get(key[0])
            return p is not None and p.create_time == key[1] and p.name == key[2]

        for key in [k for k in self.argv if not alive(k)]:
            del self.argv[key]
            self.uids.pop(key, None)
            self.shown.pop(key, None)
        for key in [k for k in self.facts if not alive(k)]:
            del self.facts[key]

    def username(self, uid: int) -> str:
        name = self.usernames.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self.usernames[uid] = escape_control(name)
            return self.usernames[uid]
        return name


def _zombie_role(name: str) -> Role:
    return Role.TUI if name.startswith("node") else Role.UNKNOWN


def _argv_of(
    platform: Platform, cache: ScanCache, proc: RawProc, now: float, *, fresh: bool = False
) -> tuple[tuple[str, ...], Match | None] | None:
    """(argv, what the rules made of it), cached; None if the process is gone.
    ``fresh``: read it again unless it was read at ``now``.
    Raises PermissionError when its argv is hidden from us."""
    key = (proc.pid, proc.create_time, proc.name)
    cached = cache.argv.get(key)
    if cached is None or _argv_due(proc, cached[2], now, fresh, cache.pass_period()):
        argv = platform.cmdline(proc.pid)
        if argv is None:
            return None
        if cached is not None and argv == cached[0]:
            # Read again, the same: the same match, and the very tuple, so the
            # candidate made from it is still the one (see ``_consider``).
            cached = (cached[0], cached[1], now)
        else:
            cached = (argv, match_argv(argv), now)
        cache.argv[key] = cached
    return cached[0], cached[1]


def _argv_due(proc: RawProc, read_at: float, now: float, fresh: bool, period: float) -> bool:
    """Whether argv read at ``read_at`` must be read again now.

    A young process may be a fork that has not exec'd yet (python forking
    python keeps the name): only trust the cache once it has settled. An old
    one can still exec into a Hermes shape: re-read it every ``period``
    (``ScanCache.pass_period``). ``fresh``: unless it was read at ``now``."""
    return (
        now - proc.create_time < ARGV_SETTLE_S
        or now - read_at >= period
        or (fresh and read_at != now)
    )


def _candidate(
    platform: Platform, cache: ScanCache, proc: RawProc, argv: tuple[str, ...], match: Match
) -> Candidate | None:
    key = (proc.pid, proc.create_time, proc.name)
    # The uid is read once per process (a Hermes process does not setuid);
    # signals re-read it anyway before anything is sent.
    uid = cache.uids.get(key)
    full = platform.with_uid(proc) if uid is None else proc._replace(uid=uid)
    if full is None:
        return None
    cache.uids[key] = full.uid
    # Shown argv: secrets redacted, then every control character escaped.
    shown = cache.shown.get(key)
    if shown is None:
        shown = cache.shown[key] = escape_argv(redact_argv(argv))
    return Candidate(full, argv, match, shown)


Chains = dict[int, list[RawProc]]


def discover(
    platform: Platform, cache: ScanCache, now: float
) -> tuple[dict[int, RawProc], dict[int, Candidate], frozenset[int], Chains]:
    """(every process, the Hermes ones and what runs below them, PIDs that could
    be Hermes but whose argv we may not read, each found one's ancestors).
    Raises ProcUnreadable when the table cannot be read whole."""
    procs, fresh = cache.next_table(platform, now)
    # In an incremental tick only what was read can have changed: the Hermes
    # processes and their ancestors (watched), new and young PIDs. The rest was
    # not Hermes last time and is looked at again when the rolling slice
    # reaches it: then its argv is read again too (it may have exec'd), as a
    # full pass reads every argv (a python process can exec into a dashboard
    # and keep its name: a cached argv would make the dashboard's workers orphans).
    pool = list(procs.values()) if fresh is None else [procs[pid] for pid in fresh]
    rolled = cache.reader.rolled if fresh is not None and cache.reader is not None else set()
    found: dict[int, Candidate] = {}
    hidden: set[int] = set()
    for proc in pool:
        again = fresh is None or proc.pid in rolled
        _consider(platform, cache, proc, now, found, hidden, fresh=again)
    _add_descendants(platform, cache, pool, found, now)
    # Zombies are listed only when a Hermes process is their parent: argv is gone.
    for proc in pool:
        if proc.status == "Z" and proc.ppid in found:
            full = platform.with_uid(proc)
            if full is not None:
                found[proc.pid] = Candidate(full, (), Match(role=_zombie_role(proc.name)), ())
    chains = None
    if fresh is not None:
        chains = _freshen_chains(platform, cache, procs, fresh, found, hidden, now)
    if fresh is None or cache.cycle_done():
        cache.prune(procs)
    # Every verdict's inputs are read fresh next time: each Hermes process and
    # each of its ancestors (a stale parent must never make a live worker an orphan).
    if chains is None:
        chains = ancestor_chains(found, procs)
    watch = set(found) | hidden
    for chain in chains.values():
        watch.update(a.pid for a in chain)
    cache.watch = watch
    for pid in [p for p in cache.made if p not in found]:
        del cache.made[pid]
    # In PID order, whatever order they were read in (an incremental tick reads a
    # set): ties in classification fall the same way every tick and in every scan.
    return procs, dict(sorted(found.items())), frozenset(hidden), chains


def _consider(
    platform: Platform,
    cache: ScanCache,
    proc: RawProc,
    now: float,
    found: dict[int, Candidate],
    hidden: set[int],
    *,
    fresh: bool = False,
) -> None:
    """Add ``proc`` to ``found`` if its argv is a Hermes shape (to ``hidden`` if
    its argv may not be read: it may be a host, so workers below it are not orphans)."""
    if proc.status == "Z" or not could_be_hermes(proc.name):
        return
    try:
        entry = _argv_of(platform, cache, proc, now, fresh=fresh)
    except PermissionError:
        hidden.add(proc.pid)
        return
    if entry is not None and entry[1] is not None:
        made = cache.made.get(proc.pid)
        if made is not None and made[0] is proc and made[1].argv is entry[0]:
            # Nothing it was made from changed: its argv, cached or read again,
            # is the very tuple (see ``_argv_of``).
            found[proc.pid] = made[1]
            return
        cand = _candidate(platform, cache, proc, entry[0], entry[1])
        if cand is not None:
            found[proc.pid] = cand
            cache.made[proc.pid] = (proc, cand)


#: Rounds of re-reading ancestors in one tick (each round can only find hosts
#: higher up the same chains, so this is never reached in practice).
_FRESHEN_ROUNDS = 4


def _freshen_chains(
    platform: Platform,
    cache: ScanCache,
    procs: dict[int, RawProc],
    fresh: set[int],
    found: dict[int, Candidate],
    hidden: set[int],
    now: float,
) -> Chains | None:
    """Make every found process's chain of ancestors fresh in this tick; the
    chains, when the last round changed nothing (else None: compute them again).

    A new worker's parent may be a cached entry from before it exec'd into a
    dashboard (or before its PID was reused by one): judged on that, the worker
    would look orphaned. So each ancestor not read in this tick is read now, and
    each one that could be Hermes but was not found has its argv read again.
    """
    for _ in range(_FRESHEN_ROUNDS):
        chained: dict[int, RawProc] = {}
        chains = ancestor_chains(found, procs)
        for chain in chains.values():
            for anc in chain:
                if anc.pid not in found:
                    chained[anc.pid] = anc
        stale = [pid for pid in chained if pid not in fresh]
        for pid in stale:
            current = platform.list_one(pid)
            fresh.add(pid)
            if current is None:
                procs.pop(pid, None)
            else:
                procs[pid] = current
        before = len(found)
        for pid in chained:
            proc = procs.get(pid)
            if proc is not None:
                _consider(platform, cache, proc, now, found, hidden, fresh=True)
        if not stale and len(found) == before:
            return chains  # nothing re-read, nothing found: the chains still hold
    return None


def _add_descendants(
    platform: Platform,
    cache: ScanCache,
    pool: list[RawProc],
    found: dict[int, Candidate],
    now: float,
) -> None:
    """Everything below a dashboard or a worker: MCP servers, tools, a tab the
    dashboard started from an unusual folder. A child older than its parent is
    not its child (the parent's PID was reused) and is left out. (In an
    incremental tick ``pool`` holds every such child: each was found last time,
    so it is watched, or it is new.)"""
    kids: dict[int, list[RawProc]] = {}
    for proc in pool:
        if proc.status != "Z":
            kids.setdefault(proc.ppid, []).append(proc)
    queue = [pid for pid, cand in found.items() if cand.role in DESCENDANT_ROOTS]
    added = 0
    while queue and added < MAX_DESCENDANTS:
        parent = found[queue.pop()]
        for child in kids.get(parent.raw.pid, ()):
            if child.pid in found or child.create_time < parent.raw.create_time:
                continue
            try:
                entry = _argv_of(platform, cache, child, now)
            except PermissionError:
                continue  # another user's process below ours: not shown, never touched
            if entry is None:
                continue
            argv, match = entry
            if match is None:
                match = match_child(parent.role, argv)
            cand = _candidate(platform, cache, child, argv, match)
            if cand is None:
                continue
            found[child.pid] = cand
            added += 1
            queue.append(child.pid)


def _pinned(info: ProcessInfo, pin: int) -> ProcessInfo:
    if not pin:
        return info
    return dataclasses.replace(info, identity=dataclasses.replace(info.identity, pin=pin))


def _record(
    cand: Candidate,
    verdict: Verdict,
    num_fds: int | None,
    fd_error: str | None,
    rss: int | None,
    pin: int,
    age_s: float,
    username: str,
) -> ProcessInfo:
    """The record of one found process, from its candidate, verdict and facts."""
    raw = cand.raw
    return frozen_record(
        ProcessInfo,
        {
            "identity": frozen_record(
                Identity,
                {
                    "pid": raw.pid,
                    "create_time": raw.create_time,
                    "uid": raw.uid,
                    "cmdline": cand.argv,
                    "pin": pin,
                },
            ),
            "ppid": raw.ppid,
            "role": cand.role,
            "state": verdict.state,
            "reason": verdict.reason,
            "session_key": verdict.session_key,
            "dashboard_pid": verdict.dashboard_pid,
            "host_pid": verdict.host_pid,
            "username": username,
            "name": raw.name,
            "status": raw.status,
            "age_s": age_s,
            "num_fds": num_fds,
            "num_fds_error": fd_error,
            "cmdline": cand.shown,  # redacted; () for a zombie: its argv is gone
            "evidence": verdict.evidence,
            "confidence": verdict.confidence,
            "rss_bytes": rss,
            "cpu_seconds": None if verdict.state is State.ZOMBIE else raw.cpu_s,
        },
    )


def build_snapshot(
    platform: Platform,
    cache: ScanCache,
    *,
    now: Callable[[], float] = time.time,
    scope: Callable[[ProcessInfo], bool] | None = None,
) -> Snapshot:
    procs, found, hidden, chains = discover(platform, cache, now())
    taken_at = now()
    evidence = collect_evidence(platform, cache.dashboards, found, chains, taken_at)
    if cache.incremental:
        verdicts, sessions = cache.verdicts.classify(
            procs, found, hidden, evidence, taken_at, chains
        )
    else:
        verdicts, sessions = classify(procs, found, hidden, evidence, taken_at, chains)
    pins: dict[int, int] = {}
    if cache.pins is not None and scope is None:
        pins = cache.pins.update(procs, {p: c.raw for p, c in found.items()}, platform.list_one)
    infos: dict[int, ProcessInfo] = {}
    errors: list[str] = []
    built = cache.built
    now_built: dict[int, tuple[Candidate, Verdict, tuple[object, ...], ProcessInfo]] = {}
    for pid in found:  # in PID order (see discover)
        cand, verdict = found[pid], verdicts[pid]
        raw = cand.raw
        num_fds: int | None
        fd_error: str | None
        rss: int | None
        if verdict.state is State.ZOMBIE:
            num_fds, fd_error, rss = None, "zombie: holds no FDs", None
        else:
            num_fds, fd_error, rss = cache.facts_of(platform, cand, taken_at)
            if fd_error == "process gone":
                continue  # exited during the scan
        pin = pins.get(pid, 0)
        inputs = (num_fds, fd_error, rss, pin)
        age_s = max(0.0, taken_at - raw.create_time)
        last = built.get(pid)
        if last is not None and last[0] is cand and last[1] is verdict and last[2] == inputs:
            infos[pid] = aged(last[3], age_s)
        else:
            infos[pid] = _record(
                cand, verdict, num_fds, fd_error, rss, pin, age_s, cache.username(raw.uid)
            )
        now_built[pid] = (cand, verdict, inputs, infos[pid])
    if cache.incremental:
        cache.built = now_built
    if scope is not None:
        infos = {pid: p for pid, p in infos.items() if scope(p)}
    if cache.pins is not None and scope is not None:
        # Only what the snapshot shows is pinned (each pin is an FD); the pin is
        # checked against the start time this scan read, so pinning after the
        # classification still names exactly the process classified.
        wanted = {pid: found[pid].raw for pid in infos}
        pins = cache.pins.update(procs, wanted, platform.list_one)
        infos = {pid: _pinned(p, pins.get(pid, 0)) for pid, p in infos.items()}
    below = members(infos)
    dashboards = [
        dashboard_info(
            platform,
            cache.dashboards,
            taken_at,
            info,
            found[pid],
            infos,
            below.get(pid, []),
            sessions.get(pid, ()),
            evidence.get(pid),
            errors,
        )
        for pid, info in infos.items()
        if info.role is Role.DASHBOARD
    ]
    return Snapshot(
        taken_at=taken_at,
        platform=platform.name,
        processes=tuple(infos.values()),
        dashboards=tuple(dashboards),
        errors=tuple(errors),
    )
