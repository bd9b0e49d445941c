"""How an incremental tick finds the PIDs allocated since the last one
(procfs.ProcTable._new_pids): looked up one by one when few tasks were created,
/proc listed otherwise; never a thread taken for a process, never a reused PID
left unread."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_top.core import procfs
from hermes_top.core.procfs import PROBE_MAX, PidMarker, ProcTable, allocated_between
from tests.harness import REGISTRY

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


class FakeProc:
    """A /proc with the files the table reads: loadavg, stat, PID/stat."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "self").symlink_to(str(os.getpid()))
        self.last_pid, self.forks = 100, 5000
        self.write_counters()

    def write_counters(self) -> None:
        tasks = len([p for p in self.root.iterdir() if p.name.isdigit()])
        (self.root / "loadavg").write_text(f"0.00 0.01 0.05 1/{tasks + 7} {self.last_pid}\n")
        (self.root / "stat").write_text(f"cpu 1 2 3\nbtime 1700000000\nprocesses {self.forks}\n")

    def spawn(
        self,
        pid: int,
        name: str = "sleep",
        start: int = 1000,
        *,
        thread: bool = False,
        allocate: bool = True,
    ) -> None:
        """A task with ``pid`` (a thread: exit_signal -1); ``allocate``: the PID
        is handed out now (the cursor moves to it), else it is an old process."""
        exit_signal = "-1" if thread else "17"
        fields = ["S", "1", str(pid), str(pid), "0", "-1", "0", *["0"] * 4, "5", "3"]
        fields += ["0", "0", "20", "0", "1", "0", str(start), *["0"] * 15, exit_signal, "0"]
        assert fields[19] == str(start) and fields[35] == exit_signal
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        (d / "stat").write_text(f"{pid} ({name}) {' '.join(fields)}\n")
        (d / "comm").write_text(f"{name}\n")
        if allocate:
            self.last_pid, self.forks = pid, self.forks + 1
        self.write_counters()

    def rename(self, pid: int, old: str, new: str) -> None:
        """``pid`` exec's into ``new``: its stat line and its comm say so."""
        stat = self.root / str(pid) / "stat"
        stat.write_text(stat.read_text().replace(f"({old})", f"({new})"))
        (self.root / str(pid) / "comm").write_text(f"{new}\n")

    def exit(self, pid: int) -> None:
        d = self.root / str(pid)
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
        self.write_counters()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeProc:
    monkeypatch.setattr(procfs, "PROC", str(tmp_path))
    return FakeProc(tmp_path)


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """One entry per time /proc was listed."""
    calls: list[int] = []
    real = procfs._proc_names

    def counted() -> list[str]:
        calls.append(1)
        return real()

    monkeypatch.setattr(procfs, "_proc_names", counted)
    yield calls


@pytest.fixture
def whole(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The PIDs whose stat is read by path (a whole read), in order."""
    reads: list[int] = []
    real = procfs._stat_bytes

    def counted(pid: int) -> bytes | None:
        reads.append(pid)
        return real(pid)

    monkeypatch.setattr(procfs, "_stat_bytes", counted)
    return reads


def _python(name: str) -> bool:
    """The names the tests' slice reads whole (as ``could_be_hermes`` would)."""
    return name.startswith("python")


def _table(fake: FakeProc, *pids: int) -> ProcTable:
    """A table read whole over old processes ``pids`` (the cursor is at 100)."""
    for pid in pids:
        fake.spawn(pid, allocate=False)
    table = ProcTable()
    table.read_all()
    assert set(table.procs) == set(pids)
    return table


def test_new_processes_are_looked_up_without_listing_proc(
    fake: FakeProc, listings: list[int]
) -> None:
    table = _table(fake, 50, 60)
    listings.clear()
    fake.spawn(101, "python3")
    fake.spawn(102, "python3", thread=True)  # a thread of 101: in /proc by TID, not a process
    fake.spawn(104)
    assert table.update(()) >= {101, 104}
    assert set(table.procs) == {50, 60, 101, 104}
    assert table.procs[101].name == "python3"
    assert listings == []
    # Nothing allocated since: nothing looked up, nothing listed.
    assert table.update(()) == set()
    assert listings == []


def test_a_reused_pid_is_read_again_at_once(fake: FakeProc, listings: list[int]) -> None:
    fake.last_pid = 58  # the cursor wrapped long ago; 61 is an old process
    table = _table(fake, 50, 61)
    listings.clear()
    fake.exit(61)
    # 59, 60 and 61 are handed out before the next tick: 61 is a new process
    # now; the listing looks the same, only its stat line differs.
    fake.spawn(59)
    fake.exit(59)
    fake.spawn(61, "node", start=2000)
    before = table.procs[61].create_time
    table.update(())
    assert table.procs[61].name == "node" and table.procs[61].create_time > before
    assert listings == []


@pytest.mark.parametrize("why", ["many tasks created", "cursor went back", "no marker"])
def test_proc_is_listed_when_the_span_is_not_sure(
    fake: FakeProc, listings: list[int], monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    fake.last_pid = 80
    table = _table(fake, 50, 90)
    listings.clear()
    fake.spawn(95)  # a new process the listing must find
    if why == "many tasks created":
        fake.forks += PROBE_MAX + 1
    elif why == "cursor went back":
        fake.last_pid = 10
    else:
        monkeypatch.setattr(procfs, "pid_marker", lambda: None)
    fake.write_counters()
    fake.exit(50)  # and one gone: listing drops it
    table.update(())
    assert listings == [1]
    assert set(table.procs) == {90, 95}


def test_a_pid_reused_within_a_long_span_is_read_again(fake: FakeProc, listings: list[int]) -> None:
    fake.last_pid = 40
    table = _table(fake, 50, 61)
    listings.clear()
    fake.exit(61)
    fake.spawn(61, "node", start=2000)
    fake.last_pid = 61 + PROBE_MAX  # far more PIDs skipped (in use) than looked up one by one
    fake.write_counters()
    table.update(())
    assert listings == [1]
    assert table.procs[61].name == "node"


def test_proc_is_listed_once_per_rolling_cycle(fake: FakeProc, listings: list[int]) -> None:
    table = _table(fake, 50, 60)
    listings.clear()
    fake.spawn(101)
    table.update((), rolling=10)  # takes every PID: a cycle begins
    assert listings == []
    fake.spawn(102)
    table.update(())
    assert listings == [1]
    fake.spawn(103)
    table.update(())
    assert listings == [1]


def test_proc_is_listed_every_relist_s_however_long_the_cycle(
    fake: FakeProc, listings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PID outside the allocated span (clone3's set_tid) is found at the
    first tick with new tasks past RELIST_S, even while the rolling cycle lasts
    a minute."""
    clock = [1000.0]
    monkeypatch.setattr(procfs.time, "monotonic", lambda: clock[0])
    table = _table(fake, 50, 60)
    listings.clear()
    fake.spawn(30, allocate=False)  # chosen, not handed out by the cursor ...
    fake.forks += 1  # ... but created all the same
    fake.write_counters()
    clock[0] += procfs.RELIST_S - 0.1
    table.update(())
    assert listings == [] and 30 not in table.procs
    clock[0] += 0.2
    fake.spawn(101)
    table.update(())
    assert listings == [1] and {30, 101} <= set(table.procs)


def test_allocated_between() -> None:
    a = PidMarker(1000, b"900", 50_000)
    assert allocated_between(a, PidMarker(1003, b"903", 50_003)) == range(1001, 1004)
    assert allocated_between(a, PidMarker(1000, b"900", 50_000)) == range(1001, 1001)
    assert allocated_between(a, PidMarker(1010, b"900", 50_000 + PROBE_MAX + 1)) is None
    assert allocated_between(a, PidMarker(400, b"900", 50_010)) is None  # wrapped


def test_on_the_real_proc_a_child_is_found_and_its_thread_is_not() -> None:
    table = ProcTable()
    table.read_all()
    script = (
        "import threading, time, sys; threading.Thread(target=time.sleep, args=(30,)).start();"
        " print(flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    start = procfs.start_ticks(child.pid)
    assert start is not None
    REGISTRY.register_identity(child.pid, start, "new-pids test")
    try:
        assert child.stdout is not None
        child.stdout.readline()  # its thread runs
        deadline = time.monotonic() + 5
        tids: set[int] = set()
        while not tids and time.monotonic() < deadline:
            tids = {int(t) for t in os.listdir(f"/proc/{child.pid}/task")} - {child.pid}
        assert tids
        table.update(())
        assert child.pid in table.procs
        assert not tids & set(table.procs)
    finally:
        child.kill()
        child.wait()


def test_the_rolling_slice_reads_a_plain_process_whole_only_once_renamed(
    fake: FakeProc, whole: list[int]
) -> None:
    table = _table(fake, 50, 60, 70)
    fake.rename(60, "sleep", "python3")
    fake.exit(70)
    whole.clear()
    read = table.update((), rolling=3, suspect=_python)
    # 50 is still `sleep`: its comm says so, its stat is not read. 60 exec'd
    # into python3: read whole. 70 is gone: its stat read says so.
    assert sorted(whole) == [60, 70] and read == {60}
    assert table.procs[60].name == "python3" and set(table.procs) == {50, 60}
    # A suspect name is read whole every time the slice reaches it.
    whole.clear()
    table.update((), rolling=2, suspect=_python)
    assert sorted(whole) == [60]


def test_a_young_plain_process_is_read_whole_only_once_renamed(
    fake: FakeProc, whole: list[int]
) -> None:
    table = _table(fake, 50, 60, 70)
    table.keep_max = 0  # every read by path: counted below
    fake.rename(60, "sleep", "python3")
    whole.clear()
    # Young (it may still exec), not watched: 50 is read by its comm only; 60
    # exec'd; 70 is watched, so read whole whatever its name.
    read = table.update({70}, young={50, 60}, suspect=_python)
    assert sorted(whole) == [60, 70] and read == {60, 70}
    assert table.procs[60].name == "python3"
    whole.clear()
    table.update(set(), young={50, 60}, suspect=_python)
    assert whole == [60]  # a young python is read every tick
    # Without ``suspect`` every young process is read whole, as before.
    whole.clear()
    table.update(set(), young={50}, suspect=None)
    assert whole == [50]
