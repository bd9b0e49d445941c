"""The rolling slice of an incremental scan (core/rolling.py)."""

from __future__ import annotations

from hermes_top.core.rolling import RoundRobin


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
