"""``ancestor_chains`` walks a chain shared by siblings once; it must give
exactly what ``ancestors`` gives for each PID, on any table a race can leave:
parents younger than their child (a reused PID), loops, gone PIDs, deep chains."""

from __future__ import annotations

import random

from hermes_top.core.classify import _MAX_DEPTH, ancestor_chains, ancestors
from hermes_top.core.procfs import RawProc


def _proc(pid: int, ppid: int, start: float) -> RawProc:
    return RawProc(pid, ppid, "python3", "S", start, 0, pid, pid)


def test_equals_ancestors_on_random_racy_tables() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        n = rng.randint(1, 30)
        # Few distinct start times: equal starts let loops through the age check.
        procs = {
            pid: _proc(pid, rng.randint(0, n + 2), float(rng.choice([1, 2, pid, n - pid])))
            for pid in range(1, n + 1)
        }
        pids = rng.sample(range(1, n + 4), k=rng.randint(1, n + 3))
        chains = ancestor_chains(pids, procs)
        assert list(chains) == pids
        for pid in pids:
            assert chains[pid] == ancestors(pid, procs), (pid, procs)


def test_a_loop_stops_where_the_plain_walk_stops() -> None:
    procs = {1: _proc(1, 2, 5.0), 2: _proc(2, 3, 5.0), 3: _proc(3, 1, 5.0)}
    chains = ancestor_chains([1, 2, 3], procs)
    assert [p.pid for p in chains[1]] == [2, 3]
    assert [p.pid for p in chains[3]] == [1, 2]


def test_a_chain_deeper_than_the_cap_is_cut_like_the_plain_walk() -> None:
    depth = _MAX_DEPTH + 40
    procs = {pid: _proc(pid, pid + 1, float(depth - pid)) for pid in range(1, depth + 1)}
    # Top down: each walk ends on a chain already known, so the cap must be
    # applied to the joined chain, not only to the walk.
    for pids in ([1, 2, 30, depth], [depth, depth - 100, 30, 1]):
        chains = ancestor_chains(pids, procs)
        assert len(chains[1]) == _MAX_DEPTH
        for pid in pids:
            assert chains[pid] == ancestors(pid, procs)
