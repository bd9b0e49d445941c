"""doctor findings and fixes on real files, stub service tools and real tui processes."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from hermes_top.core.engine import Core
from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import Role, Snapshot, State
from hermes_top.core.platform import current_platform
from hermes_top.service import doctor, doctor_fix
from hermes_top.service.doctor import DoctorRequest, Severity, TuiReferences
from tests.services.helpers import Home, Tools
from tests.services.plist_samples import limits, read_plist, rich_agent, write_plist
from tests.services.svc_snapshots import dashboard, proc, snapshot

if TYPE_CHECKING:
    from tests.harness import PidRegistry

LABEL = "ai.hermes.dashboard"
UNIT = "hermes-dashboard.service"
NODE = "/usr/bin/node"


def no_refs() -> TuiReferences:
    return TuiReferences(frozenset())


def request(home: Home, manager: str = "launchd", **kw: object) -> DoctorRequest:
    kw.setdefault("snapshot_provider", lambda: snapshot())
    kw.setdefault("references", no_refs)
    return DoctorRequest(home.settings(manager), **kw)  # type: ignore[arg-type]


def codes(findings: list[doctor.Finding]) -> list[tuple[str, Severity]]:
    return [(f.code, f.severity) for f in findings]


# -- process findings (hand-built snapshots) -----------------------------------------


@pytest.mark.parametrize(
    ("fds", "expected"),
    [
        (200, []),
        (206, [("dashboard-fds", Severity.WARNING)]),
        (250, [("dashboard-fds", Severity.ERROR)]),
    ],
)
def test_dashboard_fd_pressure(fds: int, expected: list[tuple[str, Severity]]) -> None:
    findings = doctor.snapshot_findings(snapshot(dashboards=(dashboard(10, fds, 256, 60),)))
    assert codes(findings) == expected
    if findings:
        assert f"uses {fds} of 256 FDs" in findings[0].message
        assert "frees 60" in findings[0].message  # counted pipe by pipe: no "~"


def test_unknown_fd_count_or_limit_is_not_a_finding() -> None:
    dash = dashboard(10, 250, 256)
    unknown = dash.__class__(**{**dash.__dict__, "num_fds": None})
    assert doctor.snapshot_findings(snapshot(dashboards=(unknown,))) == []


def test_orphans_point_to_reap_and_zombies_to_restart() -> None:
    snap = snapshot(
        processes=(
            proc(100, Role.SLASH_WORKER, State.ORPHAN),
            proc(101, Role.GATEWAY_ENTRY, State.ORPHAN),
            proc(102, Role.TUI, State.ZOMBIE, ppid=10),
            proc(103, Role.SLASH_WORKER, State.LIVE, ppid=10),
        )
    )
    findings = doctor.snapshot_findings(snap)
    assert codes(findings) == [("orphans", Severity.WARNING), ("zombies", Severity.INFO)]
    assert "2 orphaned" in findings[0].message and "hermes-top reap" in findings[0].message
    assert "pids 100, 101" in findings[0].message
    assert doctor.exit_code(findings) == 1
    assert doctor.exit_code(findings[1:]) == 0


def test_snapshot_provider_failure_is_informational(home: Home) -> None:
    def broken() -> doctor.Snapshot:
        raise HermesTopError("cannot read /proc")

    findings = doctor.run_checks(request(home, snapshot_provider=broken))
    assert ("scan-skipped", Severity.INFO) in codes(findings)


# -- launchd plists ------------------------------------------------------------------


def test_plist_without_limits_is_a_warning(home: Home) -> None:
    write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    findings = doctor.run_checks(request(home))
    assert codes(findings) == [("plist-no-limits", Severity.WARNING)]
    assert "256" in findings[0].message
    assert doctor.exit_code(findings) == 1


def test_low_plist_limits_and_gateway_parity(home: Home) -> None:
    write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(4096, 16384)))
    write_plist(home.launch_agents / "ai.hermes.gateway.plist", rich_agent("ai.hermes.gateway"))
    findings = doctor.run_checks(request(home))
    assert codes(findings) == [
        ("plist-low-limits", Severity.WARNING),
        ("plist-no-limits", Severity.INFO),
    ]
    assert "4096 soft / 16384 hard, below 8192 / 16384" in findings[0].message


def test_good_plist_has_no_finding(home: Home) -> None:
    write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(8192, 16384)))
    assert doctor.run_checks(request(home)) == []


def test_no_plist_is_informational(home: Home) -> None:
    assert codes(doctor.run_checks(request(home))) == [("plist-missing", Severity.INFO)]


def test_corrupt_discovered_plist_is_an_error_finding(home: Home) -> None:
    bad = home.launch_agents / f"{LABEL}.plist"
    bad.write_bytes(b"<plist><dict>")
    findings = doctor.run_checks(request(home))
    assert codes(findings) == [("plist-unreadable", Severity.ERROR)]
    assert str(bad) in findings[0].message
    # --fix has nothing it may touch.
    assert doctor_fix.apply_fixes(findings, home.settings(), reload=False) == []
    assert bad.read_bytes() == b"<plist><dict>"


def test_explicit_corrupt_plist_raises(home: Home, tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "mine.plist"
    bad.write_bytes(b"bplist00junk")
    with pytest.raises(HermesTopError, match=f"cannot parse plist {bad}"):
        doctor.run_checks(request(home, "systemd", plist=bad))


def test_fix_plist_prints_reload_commands_without_running_them(
    home: Home, tools: Tools, uid: int
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    findings = doctor.run_checks(request(home))

    (fix,) = doctor_fix.apply_fixes(findings, home.settings(), reload=False)

    assert read_plist(path) == {**rich_agent(), **limits(8192, 16384)}
    assert fix.backup is not None and fix.backup.exists()
    assert fix.pending_commands == (
        f"launchctl bootout gui/{uid} {path}",
        f"launchctl bootstrap gui/{uid} {path}",
    )
    assert fix.ran_commands == ()
    assert tools.calls() == []
    assert doctor_fix.remaining_findings(findings, [fix]) == []


def test_fix_plist_with_reload_runs_bootout_and_bootstrap(
    home: Home, tools: Tools, uid: int
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    tools.add_agent(LABEL, 4242, path)
    settings = home.settings().with_overrides(soft_limit=10000, hard_limit=20000)
    findings = doctor.run_checks(
        DoctorRequest(settings, snapshot_provider=snapshot, references=no_refs)
    )

    (fix,) = doctor_fix.apply_fixes(findings, settings, reload=True)

    assert read_plist(path)["SoftResourceLimits"] == {"NumberOfFiles": 10000}
    assert read_plist(path)["HardResourceLimits"] == {"NumberOfFiles": 20000}
    assert [c for c in tools.calls() if c[1] in ("bootout", "bootstrap")] == [
        ["launchctl", "bootout", f"gui/{uid}", str(path)],
        ["launchctl", "bootstrap", f"gui/{uid}", str(path)],
    ]
    assert len(fix.ran_commands) == 2


# -- systemd units -------------------------------------------------------------------


def test_unit_without_limit_then_fixed_by_dropin(home: Home, tools: Tools) -> None:
    unit = home.systemd_user / UNIT
    unit.write_text("[Service]\nExecStart=/opt/hermes/bin/hermes dashboard\n")
    (home.systemd_user / "hermes-gateway.service").write_text("[Service]\nLimitNOFILE=65536\n")
    findings = doctor.run_checks(request(home, "systemd"))
    assert codes(findings) == [("unit-no-limit", Severity.WARNING)]

    fixes = doctor_fix.apply_fixes(findings, home.settings("systemd"), reload=False)

    dropin = home.systemd_user / f"{UNIT}.d" / "limits.conf"
    assert "[Service]\nLimitNOFILE=8192:16384\n" in dropin.read_text()
    assert [f.code for f in fixes] == ["unit-no-limit", "daemon-reload"]
    assert tools.calls() == [["systemctl", "--user", "daemon-reload"]]
    assert "restart" in fixes[-1].message
    assert doctor.run_checks(request(home, "systemd")) == []


def test_overriding_dropin_is_reported_not_hidden(home: Home, tools: Tools) -> None:
    (home.systemd_user / UNIT).write_text("[Service]\nLimitNOFILE=1024\n")
    later = home.systemd_user / f"{UNIT}.d" / "zz-override.conf"
    later.parent.mkdir()
    later.write_text("[Service]\nLimitNOFILE=2048\n")
    findings = doctor.run_checks(request(home, "systemd"))
    assert codes(findings) == [("unit-low-limit", Severity.WARNING)]
    fixes = doctor_fix.apply_fixes(findings, home.settings("systemd"), reload=False)
    assert "zz-override.conf overrides it" in fixes[0].message
    assert doctor.exit_code(doctor_fix.remaining_findings(findings, fixes)) == 1


def test_explicit_missing_unit_raises(home: Home) -> None:
    with pytest.raises(HermesTopError, match=r"unit file nope\.service not found in"):
        doctor.run_checks(request(home, unit="nope.service"))


# -- leftover active-session files ---------------------------------------------------


def _pty_file(home: Home, name: str, age_s: float) -> pathlib.Path:
    path = home.tmp / f"hermes-pty-active-{name}.json"
    path.write_text(json.dumps({"session_id": name}))
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def live_tui(
    tmp_path: pathlib.Path, home: Home, pid_registry: PidRegistry
) -> Iterator[subprocess.Popen[bytes]]:
    """A real node process shaped like a chat tab's tui, naming its active-session file."""
    if not os.path.exists(NODE):
        pytest.skip("node is not installed")
    script = tmp_path / "site-packages" / "hermes_cli" / "tui_dist" / "entry.js"
    script.parent.mkdir(parents=True)
    script.write_text("setInterval(() => {}, 1000);\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HERMES_TUI_DASHBOARD": "1",
        doctor.ACTIVE_FILE_ENV: str(home.tmp / "hermes-pty-active-live.json"),
    }
    child = subprocess.Popen([NODE, "--expose-gc", str(script)], env=env)
    pid_registry.register(child.pid, "services test: fake tui")
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


def test_live_tui_references_reads_a_real_tui_environment(
    live_tui: subprocess.Popen[bytes],
) -> None:
    deadline = time.monotonic() + 20
    refs = _refs_of(live_tui)
    while "hermes-pty-active-live.json" not in refs.names and time.monotonic() < deadline:
        time.sleep(0.1)  # node may still be exec'ing
        refs = _refs_of(live_tui)
    assert "hermes-pty-active-live.json" in refs.names


def _scan_of(child: subprocess.Popen[bytes]) -> Snapshot:
    """The core's own scan, scoped to the test's fake tui (found by the core's matcher)."""
    return Core(scope=lambda p: p.pid == child.pid, pin=False).scan()


def _refs_of(child: subprocess.Popen[bytes]) -> TuiReferences:
    return doctor.live_tui_references(_scan_of(child), current_platform().environ)


def test_pty_files_fix_removes_only_old_unreferenced_ones(
    home: Home, live_tui: subprocess.Popen[bytes]
) -> None:
    live = _pty_file(home, "live", 5 * 3600)  # old but named by the running tui
    old = [_pty_file(home, f"old{i}", 2 * 3600) for i in range(3)]
    young = _pty_file(home, "young", 60)
    unrelated = home.tmp / "other.json"
    unrelated.write_text("{}")
    os.utime(unrelated, (0, 0))

    deadline = time.monotonic() + 20
    while True:
        findings = doctor.run_checks(
            request(home, references=None, snapshot_provider=lambda: _scan_of(live_tui))
        )
        pty = [f for f in findings if f.code == "pty-files"]
        if len(pty[0].files) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert [(f.code, f.severity) for f in pty] == [("pty-files", Severity.INFO)]
    assert "4 leftover" in pty[0].message and "3 older than an hour" in pty[0].message
    assert sorted(pty[0].files) == sorted(old)

    (fix,) = [
        x
        for x in doctor_fix.apply_fixes(findings, home.settings(), reload=False)
        if x.code == "pty-files"
    ]

    assert fix.message == "removed 3 leftover active-session file(s)"
    assert live.exists() and young.exists() and unrelated.exists()
    assert not any(p.exists() for p in old)


def test_unreadable_tui_environment_blocks_removal(home: Home) -> None:
    _pty_file(home, "a", 2 * 3600)
    findings = doctor.run_checks(
        request(home, references=lambda: TuiReferences(frozenset(), unreadable=1))
    )
    (pty,) = [f for f in findings if f.code == "pty-files"]
    assert pty.fix is None and pty.files == ()
    assert "unreadable environment" in pty.message
