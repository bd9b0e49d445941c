"""The kernel's exec events (core/exec_events.py) and when the process table
trusts them: every exec and rename of our own children is reported under its
PID, a lost event makes the table fall back to the full-rate rolling pass until
a whole cycle has read every process again, and where events cannot be trusted
there are none."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from hermes_top.core import exec_events
from hermes_top.core.exec_events import ExecEvents
from hermes_top.core.procfs import ProcTable
from tests.harness import REGISTRY, kill_exact

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


@pytest.fixture
def events() -> Iterator[ExecEvents]:
    opened = ExecEvents.open()
    if opened is None:
        pytest.skip("no exec events here (they need root and the host's namespaces)")
    try:
        yield opened
    finally:
        opened.close()


def _drain_until(events: ExecEvents, pid: int, seconds: float = 5.0) -> set[int]:
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while pid not in seen and time.monotonic() < deadline:
        got = events.drain()
        assert got is not None, "events lost while nothing else was going on"
        seen |= got
        time.sleep(0.01)
    return seen


def _sleeper() -> tuple[subprocess.Popen[bytes], int]:
    """A child that reads a line, then exec's ``sleep 30`` (registered for cleanup)."""
    script = "import os, sys; sys.stdin.readline(); os.execv('/bin/sleep', ['sleep', '30'])"
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    with open(f"/proc/{proc.pid}/stat", "rb") as f:
        start = int(f.read().rsplit(b")", 1)[1].split()[19])
    REGISTRY.register_identity(proc.pid, start, "exec events test")
    return proc, start


def test_a_child_that_execs_is_reported_under_its_pid(events: ExecEvents) -> None:
    proc, start = _sleeper()
    try:
        assert proc.pid in _drain_until(events, proc.pid)  # its own exec into python
        assert proc.pid not in (events.drain() or set())
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        assert proc.pid in _drain_until(events, proc.pid)  # python -> sleep
    finally:
        kill_exact(proc.pid, start)
        proc.wait(timeout=10)


def test_a_renamed_process_is_reported_and_a_fork_is_not(events: ExecEvents) -> None:
    # Writing our own comm is the kernel's rename (prctl PR_SET_NAME): only a
    # process's own threads may, so the test renames itself and changes it back.
    with open("/proc/self/comm") as f:
        name = f.read().rstrip("\n")
    try:
        with open("/proc/self/comm", "w") as f:
            f.write("exec-events-t")
        assert os.getpid() in _drain_until(events, os.getpid())
    finally:
        with open("/proc/self/comm", "w") as f:
            f.write(name)
    events.drain()
    before = events.received
    for _ in range(20):
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
    time.sleep(0.05)
    events.drain()
    # Unfiltered, each would be two messages (fork, exit); what else execs on
    # the machine meanwhile comes in too, but not forty times.
    assert events.received - before < 20


def test_an_overflowing_queue_is_reported_as_lost(
    events: ExecEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exec_events, "RCVBUF", 1)  # the kernel's smallest queue
    small = ExecEvents.open()
    assert small is not None
    try:
        for _ in range(40):
            subprocess.run(["/bin/true"], check=True)
        assert small.drain() is None
        subprocess.run(["/bin/true"], check=True)
        time.sleep(0.05)
        assert small.drain() is not None  # reported once; events flow again after
    finally:
        small.close()


def test_events_about_other_pids_than_ours_are_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another PID namespace's events name other PIDs: the self-test's child is
    then not found under the PID fork gave us."""
    real_spawn, real_wait = os.posix_spawn, os.waitpid

    def spawn_elsewhere(path: str, argv: list[str], env: dict[str, str]) -> int:
        pid = real_spawn(path, argv, env)
        real_wait(pid, 0)  # ours, reaped here: the self-test waits for the fake one
        return 4_000_000  # above any pid_max: no event can name it

    monkeypatch.setattr(exec_events, "SELF_TEST_S", 0.2)
    monkeypatch.setattr(os, "posix_spawn", spawn_elsewhere)
    monkeypatch.setattr(os, "waitpid", lambda pid, flags: (pid, 0))
    assert ExecEvents.open() is None


class _FakeEvents:
    """Drains what a test queues: a set of PIDs, or None for "lost"."""

    def __init__(self) -> None:
        self.queue: list[set[int] | None] = []
        self.closed = False

    def drain(self) -> set[int] | None:
        return self.queue.pop(0) if self.queue else set()

    def close(self) -> None:
        self.closed = True


def test_the_table_trusts_events_after_a_whole_read_and_again_two_cycles_after_a_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeEvents()
    monkeypatch.setattr(ExecEvents, "open", classmethod(lambda cls: fake))
    table = ProcTable()
    try:
        assert table.track_execs()
        assert not table.execs_tracked  # nothing read since they began
        table.read_all()
        assert table.execs_tracked
        mine = os.getpid()
        fake.queue.append({mine, 4_000_000})  # an exec of ours, and a PID not in the table
        table.update((), 0)
        assert table.rolled == {mine}  # looked at again as a rolled process is
        fake.queue.append(None)
        table.update((), 0)
        assert not table.execs_tracked
        lost_at = table.cycles
        count = len(table.procs)
        while table.cycles < lost_at + 2:
            assert not table.execs_tracked
            table.update((), count // 3 + 1)
        assert table.execs_tracked  # a cycle begun after the loss read every process
        table.close()
        assert fake.closed and not table.execs_tracked
    finally:
        table.close()


def test_no_events_where_the_connector_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(exec_events.socket, "socket", refused)
    table = ProcTable()
    assert ExecEvents.open() is None
    assert not table.track_execs() and not table.execs_tracked


def test_a_broken_socket_stops_the_events_and_the_scan_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeEvents()
    monkeypatch.setattr(ExecEvents, "open", classmethod(lambda cls: fake))

    def broken() -> set[int] | None:
        raise OSError(9, "Bad file descriptor")

    table = ProcTable()
    try:
        table.track_execs()
        table.read_all()
        assert table.execs_tracked
        fake.drain = broken  # type: ignore[method-assign]
        table.update((), 0)  # no exception: the tick is read as without events
        assert fake.closed and not table.execs_tracked and table.valid
    finally:
        table.close()


def test_events_that_stop_flowing_are_caught_by_the_heartbeat(
    events: ExecEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exec_events, "HEARTBEAT_S", 0.0)
    assert events.drain() is not None  # flowing: the heartbeat's exec is reported
    events._ignore()  # what another root program's "ignore" did before Linux 6.6
    with pytest.raises(exec_events.EventsStopped):
        events.drain()


def test_the_table_closes_events_that_stopped_and_reads_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = ExecEvents.open()
    if opened is None:
        pytest.skip("no exec events here (they need root and the host's namespaces)")
    monkeypatch.setattr(ExecEvents, "open", classmethod(lambda cls: opened))
    monkeypatch.setattr(exec_events, "HEARTBEAT_S", 0.0)
    table = ProcTable()
    try:
        assert table.track_execs()
        table.read_all()
        table.update((), 0)
        assert table.execs_tracked
        opened._ignore()
        table.update((), 0)
        assert not table.execs_tracked and table.valid
    finally:
        table.close()


def test_a_socket_past_fd_1024_is_waited_on(events: ExecEvents) -> None:
    """select() cannot take an FD past 1024; the self-test must still work."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the FD limit is too low to reach FD 1024")
    if soft != resource.RLIM_INFINITY and soft < 1200:
        resource.setrlimit(
            resource.RLIMIT_NOFILE,
            (1200 if hard == resource.RLIM_INFINITY else min(hard, 1200), hard),
        )
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        high = ExecEvents.open()
        assert high is not None and high._sock.fileno() >= 1024
        high.close()
    finally:
        for fd in fds:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_no_events_outside_the_initial_pid_namespace_or_where_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exec_events, "_INIT_PID_NS", 1)  # "we are in another namespace"
    assert ExecEvents.open() is None
    monkeypatch.undo()
    monkeypatch.setattr(exec_events, "_refused", True)  # what refuse_here() sets
    assert ExecEvents.open() is None


def test_a_core_whose_first_scan_was_fresh_still_listens(events: ExecEvents) -> None:
    from hermes_top.core.engine import Core

    core = Core(readonly=True, pin=False, incremental=True)
    try:
        core.scan(fresh=True)  # makes the table without listening
        core.scan()
        reader = core._cache.reader
        assert reader is not None and reader._execs is not None  # type: ignore[attr-defined]
    finally:
        core.close()
