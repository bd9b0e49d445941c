"""Linux /proc readers: the cheap scan phase and per-process facts.

One read of ``/proc/PID/stat`` gives ppid, comm, state and start time, so the
first phase costs one open+read per process; argv, FDs and limits are read
only for candidates. Every reader tolerates the process vanishing mid-read.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

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


def parse_stat(pid: int, data: bytes, uid: int) -> RawProc:
    # comm may contain spaces and parentheses: it ends at the *last* ')'.
    close_paren = data.rindex(b")")
    name = data[data.index(b"(") + 1 : close_paren].decode("utf-8", "replace")
    # fields[0] is field 3 (state) of proc(5); starttime is field 22.
    fields = data[close_paren + 2 :].split(maxsplit=20)  # we need nothing past field 22
    return RawProc(
        pid,
        int(fields[1]),
        name,
        fields[0].decode(),
        boot_time() + int(fields[19]) / clock_ticks(),
        uid,
        int(fields[2]),
        int(fields[3]),
    )


def read_proc(pid: int, *, with_uid: bool = True) -> RawProc | None:
    """The cheap facts of one process, or None if it is gone.

    ``with_uid=False`` skips reading the uid (it is then -1): the scan needs the
    uid only of the few processes that turn out to be Hermes (see ``read_uid``).
    """
    try:
        fd = os.open(f"{PROC}/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
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
    """The real uid (first ``Uid:`` field of /proc/PID/status), or None if gone.

    Not the owner of /proc/PID: for a non-dumpable process that is root.
    """
    try:
        with open(f"{PROC}/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def list_processes() -> dict[int, RawProc]:
    """Every process (not thread) visible in /proc, uid not filled in (-1).
    Vanishing ones are skipped."""
    procs: dict[int, RawProc] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        proc = read_proc(int(entry), with_uid=False)
        if proc is not None:
            procs[proc.pid] = proc
    return procs


def read_cmdline(pid: int) -> tuple[str, ...] | None:
    """argv, or None if gone/unreadable. A zombie or kernel thread gives ()."""
    try:
        with open(f"{PROC}/{pid}/cmdline", "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data:
        return ()
    return tuple(
        part.decode("utf-8", "surrogateescape") for part in data.rstrip(b"\0").split(b"\0")
    )


def count_fds(pid: int) -> tuple[int | None, str | None]:
    """(number of open FDs, None) or (None, why not)."""
    try:
        return len(os.listdir(f"{PROC}/{pid}/fd")), None
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
