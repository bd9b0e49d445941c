"""Stat files of watched processes are kept open between ticks (procfs.ProcTable):
what a tick reads through them must always be what a read by path gives now."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hermes_top.core import procfs
from hermes_top.core.procfs import ProcTable
from tests.harness import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _own_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _by_path(pid: int) -> procfs.RawProc | None:
    return procfs.read_proc(pid, with_uid=False)


def test_watched_processes_are_read_through_kept_files_as_by_path(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    pids = {p.pid for p in sleepers}
    table = ProcTable()
    table.read_all()
    table.update(pids)
    assert table.kept_open == pids
    stopped = sleepers[0].pid
    os.kill(stopped, signal.SIGSTOP)
    wait_until(lambda: _by_path(stopped).status == "T", "the sleeper to stop")  # type: ignore[union-attr]
    assert pids <= table.update(pids)
    assert table.procs[stopped].status == "T"  # the kept file reads what is there now
    for pid in pids:
        assert table.procs[pid]._replace(cpu_s=0.0) == _by_path(pid)._replace(cpu_s=0.0)  # type: ignore[union-attr]
    table.close()


def test_a_kept_file_whose_process_is_gone_is_closed_and_the_pid_read_by_path(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    a, b, c = (p.pid for p in sleepers)
    table = ProcTable()
    table.read_all()
    table.update({a, b, c})
    sleepers[1].kill()
    sleepers[1].wait()  # reaped: b's kept file now reads ESRCH
    read = table.update({a, b, c})
    assert b not in table.procs and b not in read and b not in table.kept_open
    # A reused PID looks the same to a kept file: its process is gone while the
    # PID is alive. Give c the file of b (gone): c must be read by path.
    stale = os.open(f"/proc/{a}/stat", os.O_RDONLY)
    sleepers[0].kill()
    sleepers[0].wait()
    table._kept[c] = stale
    table.update({c})
    assert table.procs[c] == _by_path(c)._replace(cpu_s=table.procs[c].cpu_s)  # type: ignore[union-attr]
    assert table.kept_open == {c}
    # The stale file was closed: its number is free, or reused for c's own file.
    try:
        now_open = os.readlink(f"/proc/self/fd/{stale}")
    except OSError:
        now_open = None
    assert now_open != f"/proc/{a}/stat"
    assert now_open is None or table._kept[c] == stale
    table.close()


def test_kept_files_follow_the_watched_set_and_their_cap(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    pids = [p.pid for p in sleepers]
    before = _own_fds()
    table = ProcTable()
    table.read_all()
    table.update(set(pids))
    assert _own_fds() == before + 3
    table.update({pids[0]})  # the others are no longer watched: closed
    assert table.kept_open == {pids[0]} and _own_fds() == before + 1
    table.keep_max = 2
    table.update(set(pids))
    assert len(table.kept_open) == 2 and set(pids) <= set(table.procs)
    table.close()
    assert table.kept_open == frozenset() and _own_fds() == before


def test_closing_the_core_closes_the_kept_files(sleepers: list[subprocess.Popen[bytes]]) -> None:
    from hermes_top.core.engine import Core

    before = _own_fds()
    core = Core(readonly=True, incremental=True)
    core.scan()
    reader = core._cache.reader
    assert isinstance(reader, ProcTable)
    reader.update({p.pid for p in sleepers})
    assert len(reader.kept_open) == 3
    core.close()
    assert reader.kept_open == frozenset() and _own_fds() <= before
