"""The rolling slice of an incremental scan (core/rolling.py)."""

from __future__ import annotations

from hermes_top.core.procfs import RawProc
from hermes_top.core.rolling import RoundRobin
from hermes_top.core.scan import ScanCache


def test_every_pid_is_handed_out_once_per_cycle() -> None:
    rr = RoundRobin()
    pids = set(range(100, 110))
    first = rr.take(pids, 4) + rr.take(pids, 4)
    assert len(set(first)) == 8
    rest = rr.take(pids, 4)  # two left in this cycle, then the next one begins
    assert set(first) | set(rest[:2]) == pids
    assert rr.cycles == 2


def test_pids_that_come_and_go_are_handled() -> None:
    rr = RoundRobin()
    pids = set(range(1, 11))
    got = rr.take(pids, 3)
    pids -= {4, 5, 6}  # exited before their turn
    pids |= {50}  # a new one waits for the next cycle
    got += rr.take(pids, 3)
    assert not {4, 5, 6} & set(got)
    assert set(got) <= pids | {1, 2, 3}
    seen: set[int] = set()
    for _ in range(5):
        seen |= set(rr.take(pids, 3))
    assert pids <= seen | set(got)


def test_a_slice_as_big_as_the_table_is_the_whole_table() -> None:
    rr = RoundRobin()
    assert sorted(rr.take({3, 1, 2}, 5)) == [1, 2, 3]
    assert rr.take({3, 1, 2}, 0) == []
    assert rr.take(set(), 5) == []


def test_a_cycle_forgets_exactly_the_processes_gone_from_the_table() -> None:
    def raw(pid: int, start: float, name: str) -> RawProc:
        return RawProc(pid, 1, name, "S", start, 0, pid, pid)

    cache = ScanCache(pins=None)
    procs = {1: raw(1, 10.0, "python3"), 2: raw(2, 20.0, "node")}
    kept = (1, 10.0, "python3")
    reused = (2, 5.0, "node")  # the same PID, an earlier start: another process
    renamed = (1, 10.0, "sleep")  # exec'd since
    gone = (3, 30.0, "python3")
    for key in (kept, reused, renamed, gone):
        cache.argv[key] = (("x",), None, 0.0)
        cache.facts[key] = (0.0, 1, None, 1)
    cache.prune(procs)
    assert list(cache.argv) == [kept] and list(cache.facts) == [kept]
