"""PinRegistry drops the pin of a process that exited (one poll for every pin
each scan) and keeps the others."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hermes_top.core import procfs
from hermes_top.core.model import Identity
from hermes_top.core.pinned import PinLookup, PinRegistry, exited_pidfds

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and hasattr(os, "pidfd_open")), reason="needs pidfds"
)


def _open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def _raw(pid: int) -> procfs.RawProc:
    raw = procfs.read_proc(pid)
    assert raw is not None
    return raw


def test_an_exited_process_loses_its_pin_and_the_others_keep_theirs(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    registry = PinRegistry(_open)
    table = {p.pid: _raw(p.pid) for p in sleepers}
    pins = registry.update(table, table, procfs.read_proc)
    assert set(pins) == set(table)
    gone = sleepers[1]
    gone.kill()
    gone.wait()
    still = {pid: raw for pid, raw in table.items() if pid != gone.pid}
    after = registry.update(still, still, procfs.read_proc)
    assert set(after) == set(still)
    identity = Identity(gone.pid, table[gone.pid].create_time, 0, (), pins[gone.pid])
    assert registry.take(identity) == (PinLookup.EXITED, None)
    registry.close()


def test_one_poll_tells_which_pidfds_exited(sleepers: list[subprocess.Popen[bytes]]) -> None:
    fds = [os.pidfd_open(p.pid) for p in sleepers]
    try:
        assert exited_pidfds(fds) == set()
        sleepers[0].kill()
        sleepers[0].wait()
        assert exited_pidfds(fds) == {fds[0]}
    finally:
        for fd in fds:
            os.close(fd)


def test_our_fds_are_counted_only_when_there_is_something_new_to_pin(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    counted: list[int] = []

    def headroom() -> int:
        counted.append(1)
        return 1 << 20

    registry = PinRegistry(_open, headroom)
    table = {p.pid: _raw(p.pid) for p in sleepers}
    first = dict(list(table.items())[:1])
    assert set(registry.update(table, first, procfs.read_proc)) == set(first)
    assert set(registry.update(table, first, procfs.read_proc)) == set(first)
    assert counted == [1]  # the second tick had nothing new to pin
    assert set(registry.update(table, table, procfs.read_proc)) == set(table)
    assert counted == [1, 1]
    registry.close()
