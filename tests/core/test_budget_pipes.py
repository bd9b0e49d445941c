"""An incremental scan reuses the pipe inodes of the processes below a dashboard
while each one's FD count stays the same (for at most PIPES_REUSE_S): the
budget it gives must be the one a fresh read gives whenever a count moved."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hermes_top.core.budget import PIPES_REUSE_S, PipeCache, fd_budget
from hermes_top.core.model import Identity, ProcessInfo, Role, State


class PipesPlatform:
    """A dashboard (PID 10) with three pipes; what each child holds is settable."""

    exact_reclaim = True

    def __init__(self) -> None:
        self.held: dict[int, dict[int, int]] = {11: {0: 501, 1: 502}, 12: {0: 503}}
        self.reads: Counter[int] = Counter()

    def fd_targets(self, pid: int) -> tuple[dict[int, str], str]:
        assert pid == 10
        return {0: "/dev/null", 5: "pipe:[501]", 6: "pipe:[502]", 7: "pipe:[503]"}, "proc"

    def pipe_inodes(self, pid: int) -> dict[int, int] | None:
        self.reads[pid] += 1
        return dict(self.held.get(pid, {}))


def _proc(pid: int, state: State, num_fds: int) -> ProcessInfo:
    return ProcessInfo(
        identity=Identity(pid, 1000.0 + pid, 501, ("python3",)),
        ppid=10,
        role=Role.DASHBOARD if pid == 10 else Role.SLASH_WORKER,
        state=state,
        reason="",
        session_key=None,
        dashboard_pid=None if pid == 10 else 10,
        host_pid=None,
        username="alice",
        name="python3",
        status="S",
        age_s=100.0,
        num_fds=num_fds,
        num_fds_error=None,
        cmdline=("python3",),
    )


DASH = _proc(10, State.LIVE, 4)


def test_unchanged_counts_reuse_the_inodes_and_give_the_same_budget() -> None:
    platform, pipes = PipesPlatform(), PipeCache()
    below = [_proc(11, State.LIVE, 5), _proc(12, State.ABANDONED, 4)]
    first = fd_budget(platform, DASH, below, pipes, 0.0)  # type: ignore[arg-type]
    again = fd_budget(platform, DASH, below, pipes, 30.0)  # type: ignore[arg-type]
    assert first == again == fd_budget(PipesPlatform(), DASH, below)  # type: ignore[arg-type]
    assert first is not None and (first.live_pipes, first.leaked_pipes) == (2, 1)
    assert platform.reads == Counter({11: 1, 12: 1})


def test_a_changed_count_reads_that_process_again() -> None:
    platform, pipes = PipesPlatform(), PipeCache()
    below = [_proc(11, State.LIVE, 5), _proc(12, State.ABANDONED, 4)]
    fd_budget(platform, DASH, below, pipes, 0.0)  # type: ignore[arg-type]
    platform.held[12] = {0: 503, 1: 502}  # the leaked one now holds 502 too
    below[1] = dataclasses.replace(below[1], num_fds=5)
    seen = fd_budget(platform, DASH, below, pipes, 1.0)  # type: ignore[arg-type]
    assert seen == fd_budget(platform, DASH, below)  # type: ignore[arg-type]
    assert platform.reads[12] == 3 and platform.reads[11] == 2  # (the plain call read both)


def test_inodes_are_read_again_after_the_reuse_time() -> None:
    platform, pipes = PipesPlatform(), PipeCache()
    below = [_proc(11, State.LIVE, 5)]
    fd_budget(platform, DASH, below, pipes, 0.0)  # type: ignore[arg-type]
    platform.held[11] = {}
    seen = fd_budget(platform, DASH, below, pipes, PIPES_REUSE_S)  # type: ignore[arg-type]
    assert seen is not None and seen.live_pipes == 0 and seen.dead_pipes == 3
    assert platform.reads[11] == 2


def test_without_a_cache_every_process_is_read_every_time() -> None:
    platform = PipesPlatform()
    below = [_proc(11, State.LIVE, 5)]
    for _ in range(3):
        fd_budget(platform, DASH, below)  # type: ignore[arg-type]
    assert platform.reads[11] == 3
