"""Linux /proc readers: the cheap scan phase and per-process facts.

One read of ``/proc/PID/stat`` gives ppid, comm, state and start time, so the
first phase costs one open+read per process; argv, FDs and limits are read
only for candidates. Every reader tolerates the process vanishing mid-read.
"""

from __future__ import annotations

import errno
import os
import resource
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from hermes_top.core.escape import escape_control
from hermes_top.core.rolling import RoundRobin

if TYPE_CHECKING:
    from hermes_top.core.exec_events import ExecEvents

PROC = "/proc"


class RawProc(NamedTuple):
    """What the cheap phase knows about any process.

    A NamedTuple, not a frozen dataclass: one is built per process per scan, and
    a frozen dataclass's __init__ costs several times more.
    """

    pid: int
    ppid: int
    name: str
    status: str
    #: Seconds since the epoch, computed like psutil's create_time.
    create_time: float
    uid: int
    pgid: int
    sid: int
    #: CPU time used so far (user + system), in seconds.
    cpu_s: float = 0.0


@lru_cache(maxsize=1)
def boot_time() -> float:
    with open(f"{PROC}/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


@lru_cache(maxsize=1)
def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def stat_fields(data: bytes) -> list[bytes]:
    """The fields of a /proc/PID/stat line after comm: [0] is field 3 (state) of
    proc(5), [1] ppid, [2] pgrp, [3] session, [4] tty_nr, [19] starttime.
    comm may contain spaces and parentheses: it ends at the *last* ')'."""
    return data[data.rindex(b")") + 2 :].split(maxsplit=20)  # nothing past field 22 is used


def parse_stat(pid: int, data: bytes, uid: int) -> RawProc:
    close_paren = data.rindex(b")")
    # comm is set by the process itself (prctl PR_SET_NAME): escape it once, here.
    name = escape_control(data[data.index(b"(") + 1 : close_paren].decode("utf-8", "replace"))
    fields = stat_fields(data)
    return RawProc(
        pid,
        int(fields[1]),
        name,
        fields[0].decode(),
        boot_time() + int(fields[19]) / clock_ticks(),
        uid,
        int(fields[2]),
        int(fields[3]),
        (int(fields[11]) + int(fields[12])) / clock_ticks(),  # utime + stime
    )


class ProcUnreadable(OSError):
    """A /proc read failed for a reason that says nothing about the process:
    we ran out of FDs or memory, or the kernel returned EIO. Never "gone"."""


class ProcessTableIncomplete(ProcUnreadable):
    """Some processes could not be read: a verdict from this table could call a
    live worker orphaned (its dashboard missing), so nobody may act on it."""


#: errno values meaning "this process no longer exists".
_GONE = frozenset({errno.ENOENT, errno.ESRCH})
#: errno values meaning "it exists but is hidden from us" (hidepid, another user).
_HIDDEN = frozenset({errno.EACCES, errno.EPERM})


def _unreadable(err: OSError, what: str) -> ProcUnreadable:
    return ProcUnreadable(err.errno or 0, f"cannot read {what}: {err.strerror or err}")


def _read(path: str, size: int = 4096) -> bytes | None:
    """The file's bytes; None if the process is gone; PermissionError if hidden;
    ProcUnreadable on anything else (EMFILE, ENOMEM, EIO ...)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in _GONE:
            return None
        if err.errno in _HIDDEN:
            raise PermissionError(err.errno, err.strerror, path) from err
        raise _unreadable(err, path) from err
    try:
        chunks = []
        while True:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < size:
                break
        return b"".join(chunks)
    except OSError as err:
        if err.errno in _GONE:
            return None  # the process exited while we read (ESRCH)
        raise _unreadable(err, path) from err
    finally:
        os.close(fd)


def read_stat_fields(pid: int) -> list[bytes] | None:
    """``stat_fields`` of a process; None if it is gone or hidden from us."""
    try:
        data = _read(f"{PROC}/{pid}/stat")
    except PermissionError:
        return None
    return stat_fields(data) if data else None


def start_ticks(pid: int) -> int | None:
    """Start time in clock ticks since boot: with the PID, the exact identity of
    a process (a reused PID has another start). None if it is gone."""
    fields = read_stat_fields(pid)
    return int(fields[19]) if fields else None


def _stat_bytes(pid: int) -> bytes | None:
    """/proc/PID/stat; None if gone or hidden (hidepid: not ours to see).
    Raises ProcUnreadable like ``_read``."""
    try:
        return _read(f"{PROC}/{pid}/stat")
    except PermissionError:
        return None


def read_proc(pid: int, *, with_uid: bool = True) -> RawProc | None:
    """The cheap facts of one process; None if it is gone or hidden from us.

    Raises ProcUnreadable when it could not be read (never reported as gone).
    ``with_uid=False`` skips reading the uid (it is then -1): the scan needs the
    uid only of the few processes that turn out to be Hermes (see ``read_uid``).
    """
    data = _stat_bytes(pid)
    if data is None:
        return None
    uid = -1
    if with_uid:
        found = read_uid(pid)
        if found is None:
            return None
        uid = found
    try:
        return parse_stat(pid, data, uid)
    except (ValueError, IndexError):
        return None


def read_uid(pid: int) -> int | None:
    """The real uid (first ``Uid:`` field of /proc/PID/status); None if gone or hidden.

    Not the owner of /proc/PID: for a non-dumpable process that is root.
    Raises ProcUnreadable when the file could not be read.
    """
    try:
        data = _read(f"{PROC}/{pid}/status", 8192)
    except PermissionError:
        return None
    if data is None:
        return None
    at = data.find(b"\nUid:")
    if at < 0:
        return None
    end = data.find(b"\n", at + 5)
    try:
        return int(data[at + 5 : end if end >= 0 else len(data)].split()[0])
    except (ValueError, IndexError):
        return None


class PidMarker(NamedTuple):
    """What /proc/loadavg and /proc/stat say about PID allocation."""

    #: The last PID allocated in our namespace (PIDs are handed out in rising
    #: order, wrapping at pid_max, skipping the ones in use).
    last_pid: int
    #: Tasks alive now.
    threads: bytes
    #: Tasks created since boot, in every namespace (each took one of our PIDs at most).
    forks: int

    def same(self, other: PidMarker | None) -> bool:
        """No PID was allocated in between (listing /proc would find nothing new)."""
        return other is not None and (self.last_pid, self.threads) == (
            other.last_pid,
            other.threads,
        )


def pid_marker() -> PidMarker | None:
    """This moment's PidMarker. None when it cannot tell: unreadable, or /proc
    is another PID namespace's (last_pid is our namespace's)."""
    try:
        if os.readlink(f"{PROC}/self") != str(os.getpid()):
            return None
        with open(f"{PROC}/loadavg", "rb") as f:
            fields = f.read().split()
        last_pid, threads = int(fields[4]), fields[3].partition(b"/")[2]
        with open(f"{PROC}/stat", "rb") as f:
            forks = next(int(line.split()[1]) for line in f if line.startswith(b"processes "))
        return PidMarker(last_pid, threads, forks)
    except (OSError, IndexError, ValueError, StopIteration):
        return None


#: New PIDs are looked up one by one when no more than this many tasks were
#: created since the last tick; past that /proc is listed (~1 ms per 1,000
#: processes: at 10,000 it was most of an idle tick).
PROBE_MAX = 256
#: A tick with new tasks lists /proc when it was last listed this long ago
#: (seconds), even where probing would do: the rolling cycle, the other
#: reason to list, can be a minute long (core/exec_events.py).
RELIST_S = 5.0


def allocated_between(before: PidMarker, after: PidMarker) -> range | None:
    """The PIDs that can have been allocated between two markers, or None when
    that is not sure. With at most PROBE_MAX tasks created and the cursor not
    gone back, it cannot have wrapped (that takes pid_max - 300 allocations):
    every PID allocated since -- a new process, or a PID reused -- is in the range."""
    if after.forks - before.forks > PROBE_MAX or after.last_pid < before.last_pid:
        return None
    return range(before.last_pid + 1, after.last_pid + 1)


def _is_thread(stat: bytes) -> bool:
    """A /proc/TID/stat line of a thread that does not lead its group: a TID
    can be looked up in /proc like a PID, but it is no process. Only such a
    thread has exit_signal (field 38) -1."""
    fields = stat[stat.rindex(b")") + 2 :].split()
    return len(fields) > 35 and fields[35] == b"-1"


def _proc_names() -> list[str]:
    try:
        return os.listdir(PROC)
    except OSError as err:
        raise ProcessTableIncomplete(err.errno or 0, f"cannot list {PROC}: {err.strerror}") from err


def _read_into(
    procs: dict[int, RawProc],
    pids: Iterable[int],
    seen: dict[int, tuple[bytes, RawProc]] | None,
    kept: dict[int, int],
) -> set[int]:
    """Read each of ``pids`` into ``procs`` (dropping the gone and the hidden);
    the PIDs read. Raises ProcessTableIncomplete if any could not be read.

    ``seen``: each PID's stat bytes from its last read and what they parsed to,
    kept up to date. Bytes equal to last time parse to an equal RawProc, so the
    entry is kept, not parsed again (an idle process's stat line does not change
    between ticks) -- unless someone else replaced the entry in ``procs``.

    ``kept``: PID -> an open /proc/PID/stat of the processes read every tick
    (see ProcTable): read with one pread instead of open+read+close.
    """
    read: set[int] = set()
    failed: list[ProcUnreadable] = []
    for pid in pids:
        try:
            fd = kept.get(pid)
            data = _stat_bytes(pid) if fd is None else _pread_stat(kept, fd, pid)
        except ProcUnreadable as err:
            failed.append(err)
            continue
        if data is not None:
            last = seen.get(pid) if seen is not None else None
            if last is not None and last[0] == data and procs.get(pid) is last[1]:
                read.add(pid)
                continue
            try:
                proc = parse_stat(pid, data, -1)
            except (ValueError, IndexError):
                pass  # not a stat line we understand: as if gone
            else:
                procs[pid] = proc
                if seen is not None:
                    seen[pid] = (data, proc)
                read.add(pid)
                continue
        procs.pop(pid, None)
        if seen is not None:
            seen.pop(pid, None)
    if failed:
        raise ProcessTableIncomplete(
            failed[0].errno or 0,
            f"{len(failed)} of {len(read) + len(failed)} processes could not be read "
            f"({failed[0].strerror})",
        )
    return read


def _renamed(procs: dict[int, RawProc], pids: Iterable[int]) -> set[int]:
    """The ones of ``pids`` whose comm is no longer their name in ``procs``,
    or that could not be asked (gone, hidden, unreadable: their stat read says)."""
    out: set[int] = set()
    for pid in pids:
        try:
            comm = _read(f"{PROC}/{pid}/comm", 64)
        except OSError:
            comm = None
        # A name with control characters is kept escaped: it never compares
        # equal, so it is read whole, as before.
        if comm is None or comm.rstrip(b"\n") != procs[pid].name.encode(errors="replace"):
            out.add(pid)
    return out


def _pread_stat(kept: dict[int, int], fd: int, pid: int) -> bytes | None:
    """The stat line through the kept ``fd``. It names the process it was opened
    on: once that one is gone (ESRCH, even if the PID was reused) it is closed
    and the PID is read by path, so the answer is always what a read by path
    gives now."""
    try:
        data = os.pread(fd, _STAT_CHUNK, 0)
    except OSError as err:
        if err.errno not in _GONE:
            raise _unreadable(err, f"{PROC}/{pid}/stat") from err
        data = b""
    if data and len(data) < _STAT_CHUNK:
        return data
    os.close(fd)
    del kept[pid]
    return _stat_bytes(pid)


#: A stat line is ~300 bytes; one that fills this is read again by path (whole).
_STAT_CHUNK = 4096
#: Stat files kept open between ticks (ProcTable): at most this many, and at
#: most an eighth of our soft FD limit (pins and actions need FDs more).
KEEP_OPEN_MAX = 512


def _keep_open_max() -> int:
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 0
    if soft == resource.RLIM_INFINITY:
        return KEEP_OPEN_MAX
    return max(0, min(KEEP_OPEN_MAX, soft // 8))


def list_processes() -> dict[int, RawProc]:
    """Every process (not thread) visible in /proc, uid not filled in (-1).

    Vanishing ones are skipped. Raises ProcessTableIncomplete when any entry
    could not be read for lack of resources: a partial table must not be used.
    """
    table = ProcTable()
    table.read_all()
    return table.procs


class ProcTable:
    """The process table an incremental scan keeps between ticks.

    ``update`` lists /proc and reads only new PIDs, the ones asked for and a
    rolling slice of the rest (see core/rolling.py); the set arithmetic on the
    names is done in C, so a tick costs O(changes + slice) in Python, not
    O(processes on the machine). After a failed read the table is unusable
    until the next ``read_all`` (an entry could be missing).
    """

    def __init__(self) -> None:
        self.procs: dict[int, RawProc] = {}
        self.valid = False
        self._names: set[str] = set()
        self._seen: dict[int, tuple[bytes, RawProc]] = {}
        self._rolling = RoundRobin()
        self._marker: PidMarker | None = None
        #: The rolling cycle /proc was last listed in, and when (see ``_new_pids``).
        self._listed_cycle = -1
        self._listed_at = float("-inf")
        #: The PIDs the last ``update`` read as its rolling slice.
        self.rolled: set[int] = set()
        #: PID -> open /proc/PID/stat of the processes ``update`` refreshes every
        #: tick (Hermes processes and their ancestors): one pread each, ~2.5x
        #: cheaper than open+read+close. Closed once a PID is no longer refreshed.
        self._kept: dict[int, int] = {}
        self.keep_max = _keep_open_max()
        #: The kernel's exec events (core/exec_events.py), once ``track_execs``
        #: opened them; until the cycle in ``_sure_from`` begins they are not
        #: trusted (none yet, or some were lost).
        self._execs: ExecEvents | None = None
        self._sure_from = 0
        #: The PIDs of ``rolled`` that the rolling slice took (the others are
        #: there because an exec event named them).
        self.sliced: set[int] = set()

    def track_execs(self) -> bool:
        """Listen for exec events (root, Linux). Before the first ``read_all``:
        an exec during it is reported, not missed."""
        if self._execs is None:
            from hermes_top.core.exec_events import ExecEvents  # sockets: not for `list`

            self._execs = ExecEvents.open()
            self._distrust()
        return self._execs is not None

    def _distrust(self) -> None:
        """Events are not enough until a whole cycle begun after now has read
        every process (the next one but this)."""
        self._sure_from = self.cycles + 2

    @property
    def execs_tracked(self) -> bool:
        """Every exec since the rolling cycle before this one began was reported:
        the rolling pass is then only a backstop (see ScanCache._slice)."""
        return self._execs is not None and self.cycles >= self._sure_from

    @property
    def cycles(self) -> int:
        """Rolling cycles begun (see RoundRobin.cycles)."""
        return self._rolling.cycles

    def read_all(self) -> set[int]:
        self.valid = False
        self._marker = pid_marker()
        names = _proc_names()
        self._listed_cycle, self._listed_at = self.cycles, time.monotonic()
        procs: dict[int, RawProc] = {}
        seen: dict[int, tuple[bytes, RawProc]] = {}
        read = _read_into(procs, (int(name) for name in names if name.isdigit()), seen, self._kept)
        self.procs, self._names, self._seen, self.valid = procs, set(names), seen, True
        self.rolled = set()
        if self._execs is not None:
            # Every process was read after the events began: they are enough now.
            self._sure_from = min(self._sure_from, self.cycles)
        return read

    def update(
        self,
        refresh: Iterable[int],
        rolling: int = 0,
        suspect: Callable[[str], bool] | None = None,
        young: Iterable[int] = (),
    ) -> set[int]:
        """Bring the table up to date; the PIDs read: new ones, ``refresh``,
        ``young`` (processes that may still exec) and the next ``rolling`` of the
        others. With ``suspect`` (the names a Hermes process can have), a young
        or rolled process whose name it rejects is read only once renamed."""
        if not self.valid:
            return self.read_all()
        self.valid = False
        # Read before listing: a PID allocated after this is seen next tick.
        marker = pid_marker()
        wanted: set[int] = set()
        if marker is None or not marker.same(self._marker):
            wanted = self._new_pids(marker)
        self._marker = marker
        refresh = {pid for pid in refresh if pid in self.procs}
        young = {pid for pid in young if pid in self.procs}
        self.sliced = set(self._rolling.take(self.procs.keys(), rolling))
        self.rolled = set(self.sliced)
        if self._execs is not None:
            try:
                execs = self._execs.drain()
            except OSError:
                # The socket broke or events stopped flowing (the heartbeat's exec
                # went unreported): none from now on, the full-rate pass again.
                self._execs.close()
                self._execs, execs = None, None
            if execs is None:
                self._distrust()  # some were lost
            else:
                # Looked at again as a rolled process is: name, and argv if it
                # can be Hermes (an exec that kept its name changed the argv).
                self.rolled |= {pid for pid in execs if pid in self.procs}
        plain: set[int] = set()
        if suspect is not None:
            # A process whose name is no Hermes shape becomes one only by exec,
            # and exec renames it: its comm is read (~35 % cheaper than stat),
            # its stat only when the name changed (or it is gone).
            others = (young | self.rolled) - refresh - wanted
            plain = {p for p in others if not suspect(self.procs[p].name)}
        refresh |= young - plain
        self._release(refresh)  # no longer watched, or gone from the listing
        wanted |= refresh | (self.rolled - plain) | _renamed(self.procs, plain)
        read = _read_into(self.procs, wanted, self._seen, self._kept)
        self._keep(refresh & read)
        self.valid = True
        return read

    def _new_pids(self, marker: PidMarker | None) -> set[int]:
        """The PIDs to read because they were allocated since the last tick.

        A process that exited unlisted stays in the table until it is read
        (watched ones every tick, the rest when the rolling slice reaches them):
        it is nobody's fresh ancestor."""
        span = None
        if marker is not None and self._marker is not None:
            span = allocated_between(self._marker, marker)
        if (
            span is not None
            and len(span) <= PROBE_MAX
            and self._listed_cycle == self.cycles
            and time.monotonic() - self._listed_at < RELIST_S
        ):
            # Few allocated: look them up, not the whole of /proc. /proc is
            # still listed once per rolling cycle and every RELIST_S (what a
            # guess here could miss: a PID chosen with clone3's set_tid).
            found = set()
            for pid in span:
                data = _stat_bytes(pid)
                if data is not None and not _is_thread(data):
                    found.add(pid)
                    self._names.add(str(pid))
            return found
        names = set(_proc_names())
        self._listed_cycle, self._listed_at = self.cycles, time.monotonic()
        for name in self._names - names:
            if name.isdigit():
                self.procs.pop(int(name), None)
                self._seen.pop(int(name), None)
        wanted = {int(name) for name in names - self._names if name.isdigit()}
        if span is not None:
            # Listed before and now, but allocated in between: a PID reused.
            wanted |= {pid for pid in span if str(pid) in names}
        self._names = names
        return wanted

    def _keep(self, pids: set[int]) -> None:
        for pid in pids:
            if len(self._kept) >= self.keep_max:
                return
            if pid not in self._kept:
                try:
                    self._kept[pid] = os.open(f"{PROC}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    pass  # gone, hidden, out of FDs: read by path, as before

    def _release(self, keep: set[int]) -> None:
        for pid in [p for p in self._kept if p not in keep]:
            os.close(self._kept.pop(pid))

    @property
    def kept_open(self) -> frozenset[int]:
        """The PIDs whose stat file is kept open."""
        return frozenset(self._kept)

    def close(self) -> None:
        """Close the kept stat files (the table can still be used: by path) and
        stop listening for exec events."""
        self._release(set())
        if self._execs is not None:
            self._execs.close()
            self._execs = None


def read_cmdline(pid: int) -> tuple[str, ...] | None:
    """argv; None if the process is gone. A zombie or kernel thread gives ().

    PermissionError when hidden from us (hidepid); ProcUnreadable otherwise.
    """
    data = _read(f"{PROC}/{pid}/cmdline", 65536)
    if data is None:
        return None
    if not data:
        return ()
    return tuple(
        part.decode("utf-8", "surrogateescape") for part in data.rstrip(b"\0").split(b"\0")
    )


#: count_fds reads the size of /proc/PID/fd only as root (see there).
_AS_ROOT = os.geteuid() == 0


def count_fds(pid: int) -> tuple[int | None, str | None]:
    """(number of open FDs, None) or (None, why not).

    Since Linux 6.2 the size of /proc/PID/fd is its number of open FDs: one stat,
    not a listing of hundreds of names (a dashboard near its limit). Only as
    root, who may list it anyway: the size is given to anyone, and a user who may
    not list another's FDs keeps the answer "access denied". Older kernels say 0:
    then (and for a process with no FDs) the directory is listed.
    """
    path = f"{PROC}/{pid}/fd"
    try:
        if _AS_ROOT:
            size = os.stat(path).st_size
            if size > 0:
                return size, None
        return len(os.listdir(path)), None
    except PermissionError:
        return None, "access denied"
    except FileNotFoundError:
        return None, "process gone"
    except OSError as err:
        return None, err.strerror or str(err)


def fd_targets(pid: int) -> dict[int, str]:
    """FD number → readlink target (``pipe:[123]``, ``socket:[4]``, a path ...)."""
    targets: dict[int, str] = {}
    base = f"{PROC}/{pid}/fd"
    for entry in os.listdir(base):  # PermissionError/FileNotFoundError go to the caller
        try:
            targets[int(entry)] = os.readlink(f"{base}/{entry}")
        except OSError:
            continue  # closed while we looked
    return targets


def pipe_inodes(pid: int) -> dict[int, int]:
    """FD number → pipe inode, for this process's pipe FDs. Empty if unreadable."""
    try:
        targets = fd_targets(pid)
    except OSError:
        return {}
    out: dict[int, int] = {}
    for fd, target in targets.items():
        if target.startswith("pipe:["):
            out[fd] = int(target[6:-1])
    return out


def read_nofile_limits(pid: int) -> tuple[int | None, int | None] | None:
    """(soft, hard) RLIMIT_NOFILE from /proc/PID/limits (readable for any user).

    None for "unlimited"; returns None altogether if the file cannot be read.
    """
    try:
        with open(f"{PROC}/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    parts = line.split()
                    soft, hard = parts[3], parts[4]
                    return (
                        None if soft == "unlimited" else int(soft),
                        None if hard == "unlimited" else int(hard),
                    )
    except (OSError, ValueError, IndexError):
        return None
    return None


@lru_cache(maxsize=1)
def page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def read_rss(pid: int) -> int | None:
    """Resident set size in bytes (``/proc/PID/statm``); None if gone or unreadable."""
    try:
        data = _read(f"{PROC}/{pid}/statm", 256)
    except (PermissionError, ProcUnreadable):
        return None  # memory is shown, never acted on: a missing figure is fine
    if not data:
        return None
    try:
        return int(data.split()[1]) * page_size()
    except (ValueError, IndexError):
        return None


class TcpSocket(NamedTuple):
    """One row of /proc/net/tcp{,6}: addresses as the kernel prints them (hex)."""

    local: str
    remote: str
    state: int
    inode: int

    @property
    def local_port(self) -> int:
        return int(self.local.rsplit(":", 1)[1], 16)


TCP_ESTABLISHED = 0x01
TCP_LISTEN = 0x0A
#: /proc/net/tcp is read whole; a machine with more sockets than this is not parsed past it.
_MAX_TCP_BYTES = 16 << 20


def _no_sockets(name: str) -> bool:
    """True when /proc/net/sockstat{,6} says no TCP socket of that family is in
    use: listing its table would walk the kernel's whole connection hash (~3.5 ms
    at 262,144 buckets) to find none. False when it cannot tell."""
    stat, label = ("sockstat6", b"TCP6:") if name == "tcp6" else ("sockstat", b"TCP:")
    try:
        with open(f"{PROC}/net/{stat}", "rb") as f:
            for line in f:
                fields = line.split()
                if fields[:2] == [label, b"inuse"]:
                    return fields[2] == b"0"
    except (OSError, IndexError):
        pass
    return False


def tcp_sockets() -> list[TcpSocket]:
    """TCP sockets of this network namespace (IPv4 and IPv6); [] where unreadable."""
    out: list[TcpSocket] = []
    for name in ("tcp", "tcp6"):
        if _no_sockets(name):
            continue
        try:
            with open(f"{PROC}/net/{name}", "rb") as f:
                data = f.read(_MAX_TCP_BYTES)
        except OSError:
            continue
        for line in data.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                out.append(
                    TcpSocket(
                        fields[1].decode(), fields[2].decode(), int(fields[3], 16), int(fields[9])
                    )
                )
            except (ValueError, IndexError, UnicodeDecodeError):
                continue
    return out


def socket_inodes(targets: dict[int, str]) -> set[int]:
    """Inodes of the sockets among an fd → target map (see ``fd_targets``)."""
    out: set[int] = set()
    for target in targets.values():
        if target.startswith("socket:[") and target.endswith("]"):
            try:
                out.add(int(target[8:-1]))
            except ValueError:
                continue
    return out


def read_environ(pid: int) -> dict[str, str] | None:
    """The environment a process started with; None if gone or not ours to read.
    A hint only: it is what the process was given, not what it uses now."""
    try:
        data = _read(f"{PROC}/{pid}/environ", 65536)
    except (PermissionError, ProcUnreadable):
        return None
    if data is None:
        return None
    env: dict[str, str] = {}
    for item in data[: 1 << 20].split(b"\0"):
        name, eq, value = item.partition(b"=")
        if eq:
            env[name.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
    return env


def read_groups(pid: int) -> tuple[int, list[int]] | None:
    """(real gid, supplementary groups) from /proc/PID/status; None if unreadable."""
    try:
        data = _read(f"{PROC}/{pid}/status", 8192)
    except (PermissionError, ProcUnreadable):
        return None
    if not data:
        return None
    fields = dict(line.split(b":", 1) for line in data.splitlines() if b":" in line)
    try:
        gid = int(fields[b"Gid"].split()[0])
        return gid, [int(g) for g in fields.get(b"Groups", b"").split()]
    except (KeyError, ValueError, IndexError):
        return None
