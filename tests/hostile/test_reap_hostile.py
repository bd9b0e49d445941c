"""Hostile conditions for the reaper: FD exhaustion, unreadable /proc, two reaps
at once, a journal that fills up, a process table that cannot be read whole."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from hermes_top.core import procfs
from hermes_top.core.engine import Core
from hermes_top.core.errors import HermesTopError, ScanError
from hermes_top.core.journal import Journal, read_journal
from hermes_top.core.model import ENDED_OUTCOMES, Outcome, State
from hermes_top.core.platform import LinuxPlatform
from hermes_top.core.reap import ACTION_RESERVE_FDS
from hermes_top.sim import Simulation
from tests.core.helpers import wait_for
from tests.harness import is_running
from tests.hostile.workers import bare_workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

ROOT = Path(__file__).resolve().parents[2]


def _pid_core(pids: set[int], journal: Path, **kwargs: object) -> Core:
    return Core(scope=lambda p: p.pid in pids, journal=Journal(journal), **kwargs)  # type: ignore[arg-type]


def _old_enough() -> None:
    # Targets the scan could not pin are pinned again only once old enough to be unmistakable.
    time.sleep(2.2)


def test_reap_under_a_low_fd_limit_kills_every_stubborn_orphan(
    sim: Simulation, tmp_path: Path
) -> None:
    """Before: with more targets than FDs, failed /proc reads counted as "gone",
    so SIGKILL was skipped and most were reported "terminated" while alive."""
    limit, count = 64, 130
    with bare_workers(sim, count, ignore_term=True) as procs:
        _old_enough()
        pids = [p.pid for p in procs]
        journal = tmp_path / "journal.jsonl"
        out = subprocess.run(
            [sys.executable, "-m", "tests.hostile.reap_driver", str(limit), "1.0", str(journal)]
            + [str(p) for p in pids],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        report = json.loads(out.stdout)
        assert report["planned"] == count
        outcomes = Counter(report["results"].values())
        odd = {pid: d for pid, d in report["detail"].items() if report["results"][pid] != "killed"}
        assert outcomes == {"killed": count}, (outcomes, odd)
        for proc in procs:
            proc.wait(timeout=5)  # every one really ended (our children: we collect them)
        killed = {r["pid"] for r in read_journal(journal) if r.get("signal") == "SIGKILL"}
        assert killed == set(pids)


def test_unreadable_proc_is_unknown_never_terminated(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once SIGTERM is out, /proc starts failing with EMFILE: the reaper must not
    count that as an exit, nor send SIGKILL to a process it cannot verify."""
    with bare_workers(sim, 4, ignore_term=True) as procs:
        _old_enough()
        pids = {p.pid for p in procs}
        # No scan-time pins, and no pidfd may be held: every look is a fresh pin.
        core = _pid_core(pids, tmp_path / "j.jsonl", pin=False)
        monkeypatch.setattr(LinuxPlatform, "fd_headroom", lambda self: ACTION_RESERVE_FDS)
        snap = core.scan()
        targets = [p for p in snap.processes if p.pid in pids]
        assert len(targets) == 4
        failing = threading.Event()
        real_read = procfs.read_proc

        def read_proc(pid: int, *, with_uid: bool = True) -> procfs.RawProc | None:
            if failing.is_set() and pid in pids:
                raise procfs.ProcUnreadable(errno.EMFILE, "Too many open files")
            return real_read(pid, with_uid=with_uid)

        monkeypatch.setattr(procfs, "read_proc", read_proc)
        real_write = Journal.write

        def write(self: Journal, record: dict[str, object]) -> bool:
            ok = real_write(self, record)
            if record.get("signal") == "SIGTERM":
                failing.set()
            return ok

        monkeypatch.setattr(Journal, "write", write)
        report = core.reap(targets, grace_s=0.3)
        failing.clear()
        outcomes = {r.pid: r.outcome for r in report.results}
        # Signalled before /proc failed: "unknown", never "terminated" or "gone";
        # not yet signalled when it failed: not signalled at all (unverifiable).
        assert set(outcomes.values()) <= {Outcome.UNKNOWN, Outcome.SKIPPED}, report.results
        assert Outcome.UNKNOWN in outcomes.values()
        for r in report.results:
            why = (
                "cannot tell whether it ended" if r.outcome is Outcome.UNKNOWN else "cannot verify"
            )
            assert why in r.detail, r
        assert all(is_running(p) for p in pids), "a target was reported but is gone?"
        sent = [r for r in read_journal(tmp_path / "j.jsonl") if r.get("event") == "signal"]
        assert {r["signal"] for r in sent} == {"SIGTERM"}, "SIGKILL sent to an unverified PID"


def test_two_reaps_at_once_attribute_each_outcome_once(sim: Simulation, tmp_path: Path) -> None:
    """Before: both reaps claimed "terminated" for the same processes."""
    with bare_workers(sim, 20) as procs:
        pids = {p.pid for p in procs}
        cores = [_pid_core(pids, tmp_path / "j.jsonl") for _ in range(2)]
        snaps = [c.scan() for c in cores]
        reports = []
        start = threading.Barrier(2)

        def run(core: Core, snap_index: int) -> None:
            targets = [p for p in snaps[snap_index].processes if p.pid in pids]
            start.wait()
            reports.append(core.reap(targets, grace_s=2.0))

        threads = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(cores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for c in cores:
            c.close()
        claimed = Counter(
            r.pid
            for rep in reports
            for r in rep.results
            if r.outcome in ENDED_OUTCOMES - {Outcome.GONE}
        )
        assert set(claimed) == pids and set(claimed.values()) == {1}, claimed
        gone = [r.pid for rep in reports for r in rep.results if r.outcome is Outcome.GONE]
        assert sorted(gone) == sorted(pids)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> object:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_journal_filling_up_midway_finishes_the_reap(sim: Simulation, tiny_fs: Path) -> None:
    """Before: the first failed write raised after one SIGTERM, leaving the
    others unsignalled and a truncated line that broke every later read."""
    with bare_workers(sim, 12) as procs:
        pids = {p.pid for p in procs}
        journal = tiny_fs / "signals.jsonl"
        core = _pid_core(pids, journal)
        targets = [p for p in core.scan().processes if p.pid in pids]
        report = core.reap(targets, grace_s=2.0)
        core.close()
        assert {r.outcome for r in report.results} == {Outcome.TERMINATED}
        assert report.journal_lost > 0 and report.journal_error
        records = read_journal(journal)  # every line still parses
        assert records and records[0]["event"] == "action"
        assert journal.read_bytes().endswith(b"\n")
        for proc in procs:
            proc.wait(timeout=5)


def test_unwritable_journal_signals_nothing(sim: Simulation, tiny_fs: Path) -> None:
    (tiny_fs / "filler").write_bytes(b"x" * 4096)  # the filesystem is full
    with bare_workers(sim, 3) as procs:
        pids = {p.pid for p in procs}
        core = _pid_core(pids, tiny_fs / "signals.jsonl")
        targets = [p for p in core.scan().processes if p.pid in pids]
        with pytest.raises(HermesTopError, match="nothing was signalled"):
            core.reap(targets, grace_s=0.5)
        core.close()
        assert all(is_running(p) for p in pids)


def test_incomplete_process_table_stops_the_scan(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a dashboard whose /proc read failed vanished from the table and
    its live workers were listed as orphans (and reaped)."""
    d = sim.start_dashboard(port=9381)
    tab = sim.open_tab(d, path="attach")
    pids = {d.pid, *tab.worker_pids}
    core = _pid_core(pids, tmp_path / "j.jsonl")
    snap = wait_for(core.scan, lambda s: all(s.get(p) for p in tab.worker_pids))
    assert all(snap.get(p).state is State.LIVE for p in tab.worker_pids)  # type: ignore[union-attr]
    real_read = procfs._read

    def read(path: str, size: int = 4096) -> bytes | None:
        if path == f"{procfs.PROC}/{d.pid}/stat":
            raise procfs.ProcUnreadable(errno.EMFILE, "Too many open files")
        return real_read(path, size)

    monkeypatch.setattr(procfs, "_read", read)
    with pytest.raises(ScanError, match="cannot read the process table"):
        core.scan()
    core.close()


def test_worker_below_an_unreadable_host_is_not_an_orphan(
    sim: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard whose argv we may not read (hidepid, another user) may still
    be the host of the workers below it: they must not be reaped as orphans."""
    d = sim.start_dashboard(port=9382)
    tab = sim.open_tab(d, path="attach")
    pids = {d.pid, *tab.worker_pids}
    real_cmdline = LinuxPlatform.cmdline

    def cmdline(self: LinuxPlatform, pid: int) -> tuple[str, ...] | None:
        if pid == d.pid:
            raise PermissionError(errno.EACCES, "hidden")
        return real_cmdline(self, pid)

    monkeypatch.setattr(LinuxPlatform, "cmdline", cmdline)
    core = _pid_core(pids, tmp_path / "j.jsonl")
    snap = wait_for(core.scan, lambda s: all(s.get(p) for p in tab.worker_pids))
    worker = snap.get(tab.worker_pids[-1])
    assert worker is not None and worker.state is State.LIVE
    assert "cannot tell" in worker.reason and str(d.pid) in worker.reason
    assert not core.plan_reap(snap).targets
    core.close()
    assert all(is_running(p) for p in tab.worker_pids)
