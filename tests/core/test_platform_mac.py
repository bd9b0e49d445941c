"""The macOS branch of the platform seam, run on Linux by injecting it.

MacPlatform discovers with psutil, re-verifies identity before every signal
(no pidfds), estimates reclaimable FDs and infers limits from plist →
launchctl → default. Limits use real plist files and RawProc values with
ppid 1, as a launchd agent would have.
"""

from __future__ import annotations

import plistlib
import signal
from pathlib import Path

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import Outcome, ProcessInfo, State
from hermes_top.core.platform import MacPlatform
from hermes_top.core.procfs import RawProc, read_proc
from hermes_top.service import limits_macos
from hermes_top.sim import Simulation
from tests.core.helpers import wait_for


def _agent(ppid: int = 1) -> RawProc:
    return RawProc(
        pid=4242,
        ppid=ppid,
        name="python3",
        status="S",
        create_time=1.0,
        uid=501,
        pgid=4242,
        sid=4242,
    )


def _write_plist(
    directory: Path,
    label: str,
    limits: dict[str, int] | None,
    fmt: plistlib.PlistFormat = plistlib.FMT_XML,
) -> Path:
    data: dict[str, object] = {"Label": label, "ProgramArguments": ["hermes", "dashboard"]}
    if limits is not None:
        data["SoftResourceLimits"] = {"NumberOfFiles": limits["soft"]}
        data["HardResourceLimits"] = {"NumberOfFiles": limits["hard"]}
    path = directory / f"{label}.plist"
    path.write_bytes(plistlib.dumps(data, fmt=fmt))
    return path


def test_limits_come_from_the_plist_when_it_sets_them(tmp_path: Path) -> None:
    plist = _write_plist(
        tmp_path, "ai.hermes.dashboard", {"soft": 8192, "hard": 16384}, plistlib.FMT_BINARY
    )
    limits = limits_macos.infer_nofile_limits(
        _agent(), launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: (256, None)
    )
    assert (limits.soft, limits.hard, limits.source) == (8192, 16384, "plist")
    assert limits.inferred and limits.detail == f"NumberOfFiles in {plist}"


def test_profile_agent_plist_is_preferred(tmp_path: Path) -> None:
    _write_plist(tmp_path, "ai.hermes.dashboard", {"soft": 1024, "hard": 2048})
    _write_plist(tmp_path, "ai.hermes.dashboard-work", {"soft": 4096, "hard": 8192})
    limits = limits_macos.infer_nofile_limits(
        _agent(), profile="work", launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: None
    )
    assert (limits.soft, limits.source) == (4096, "plist")


def test_plist_without_limits_falls_back_to_launchctl(tmp_path: Path) -> None:
    _write_plist(tmp_path, "ai.hermes.dashboard", None)
    limits = limits_macos.infer_nofile_limits(
        _agent(), launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: (256, None)
    )
    assert (limits.soft, limits.hard, limits.source, limits.inferred) == (
        256,
        None,
        "launchctl",
        True,
    )


def test_no_plist_no_launchctl_means_the_launchd_default(tmp_path: Path) -> None:
    limits = limits_macos.infer_nofile_limits(
        _agent(), launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: None
    )
    assert (limits.soft, limits.source, limits.inferred) == (256, "default", True)


def test_corrupt_plist_is_reported_and_not_trusted(tmp_path: Path) -> None:
    bad = tmp_path / "ai.hermes.dashboard.plist"
    bad.write_bytes(b"<?xml garbage")
    limits = limits_macos.infer_nofile_limits(
        _agent(), launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: None
    )
    assert limits.source == "default" and "plist" in limits.detail.lower()
    assert bad.read_bytes() == b"<?xml garbage"


def test_dashboard_started_from_a_shell_has_an_unknown_limit(tmp_path: Path) -> None:
    limits = limits_macos.infer_nofile_limits(
        _agent(ppid=777), launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: (256, None)
    )
    assert limits.soft is None and limits.source == "unknown"


@pytest.fixture
def mac_core(sim: Simulation, tmp_path: Path) -> Core:
    def in_scope(p: ProcessInfo) -> bool:
        return sim.in_scope(p.identity.cmdline, p.pid)

    platform = MacPlatform(
        limits_macos.limit_source(
            launch_agents_dir=tmp_path, launchctl_maxfiles=lambda: (256, None)
        )
    )
    return Core(scope=in_scope, platform=platform, journal=Journal(tmp_path / "j.jsonl"))


def test_mac_branch_classifies_and_estimates(sim: Simulation, mac_core: Core) -> None:
    d = sim.start_dashboard(port=9321)
    tab = sim.open_tab(d, path="attach")
    old = tab.worker_pids[0]
    new = sim.restart_worker(tab, close_old=False)
    snap = mac_core.scan()
    assert snap.platform == "darwin"
    old_p = snap.get(old)
    new_p = snap.get(new)
    assert old_p is not None and new_p is not None
    assert old_p.state is State.STALE and new_p.state is State.LIVE
    dash = snap.dashboard(d.pid)
    assert dash is not None
    # No pipe identities on macOS: 3 per leaked direct child, marked as an estimate.
    assert dash.reclaimable_fds == 3 and dash.reclaimable_is_estimate
    assert dash.limits.inferred
    assert old_p.identity.pin == 0  # nothing pinned without pidfds


def test_mac_branch_reverifies_before_each_signal(sim: Simulation, mac_core: Core) -> None:
    d = sim.start_dashboard(port=9322)
    polite = sim.orphan_worker(d)
    stubborn = sim.orphan_worker(d, ignore_term=True)
    snap = wait_for(
        mac_core.scan, lambda s: s.get(polite) is not None and s.get(stubborn) is not None
    )
    targets = [p for p in snap.processes if p.pid in (polite, stubborn)]
    # A changed identity (as after PID reuse) is never signalled.
    import dataclasses

    changed = dataclasses.replace(
        targets[0], identity=dataclasses.replace(targets[0].identity, create_time=1.0)
    )
    report = mac_core.send_signal([changed], signal.SIGKILL)
    assert report.results[0].outcome is Outcome.CHANGED
    raw = read_proc(changed.pid)
    assert raw is not None and raw.status != "Z"
    reap = mac_core.reap(targets, grace_s=0.5)
    outcomes = {r.pid: r.outcome for r in reap.results}
    assert outcomes == {polite: Outcome.TERMINATED, stubborn: Outcome.KILLED}
    assert reap.elapsed_s < 0.5 + 1.0
