"""`hermes-top restart | status | doctor` through cli.main, with stub service tools."""

from __future__ import annotations

import io
import json
import pathlib
import plistlib
from typing import TYPE_CHECKING

import pytest

from hermes_top.cli import main
from hermes_top.core.model import Role, State
from hermes_top.service import doctor
from tests.services.helpers import Home, Tools
from tests.services.plist_samples import read_plist, rich_agent, write_plist
from tests.services.svc_snapshots import proc, snapshot

if TYPE_CHECKING:
    from tests.harness import PidRegistry

LABEL = "ai.hermes.dashboard"
UNIT = "hermes-dashboard.service"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def quiet_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor must not see this shared machine's real Hermes processes."""
    monkeypatch.setattr(doctor, "default_snapshot_provider", lambda: snapshot())
    monkeypatch.setattr(doctor, "live_tui_references", lambda *_: doctor.TuiReferences(frozenset()))


@pytest.fixture
def no_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_restart_without_yes_and_without_tty_refuses(
    tools: Tools, no_tty: None, capsys: pytest.CaptureFixture[str]
) -> None:
    tools.add_agent(LABEL, 4242)
    assert main(["restart", "--manager", "launchd"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"hermes-top: error: refusing to restart {LABEL} without --yes: no terminal to confirm on\n"
    )
    assert not [c for c in tools.calls() if c[1] == "kickstart"]


def test_restart_asks_and_honours_no(
    tools: Tools, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tools.add_agent(LABEL, 4242)
    monkeypatch.setattr("sys.stdin", FakeTty("n\n"))
    assert main(["restart", "--manager", "launchd"]) == 0
    out = capsys.readouterr().out
    assert f"Restart launchd agent {LABEL} (pid 4242" in out
    assert "Cancelled; nothing was restarted." in out
    assert not [c for c in tools.calls() if c[1] == "kickstart"]


def test_restart_asks_and_restarts_on_yes(
    tools: Tools, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], uid: int
) -> None:
    tools.add_agent(LABEL, 4242)
    monkeypatch.setattr("sys.stdin", FakeTty("y\n"))
    assert main(["restart", "--manager", "launchd"]) == 0
    assert ["launchctl", "kickstart", "-k", f"gui/{uid}/{LABEL}"] in tools.calls()


def test_restart_yes_json_reports_pids_and_real_fd_counts(
    tools: Tools, capsys: pytest.CaptureFixture[str], uid: int, pid_registry: PidRegistry
) -> None:
    import subprocess
    import sys

    # Real processes stand in for the old and new dashboard so the FD counts are real.
    old = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    new = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    pid_registry.register(old.pid, "services test: old dashboard")
    pid_registry.register(new.pid, "services test: new dashboard")
    try:
        tools.add_agent(LABEL, old.pid)
        tools.update("launchd", next_pids=[new.pid])
        assert main(["restart", "--manager", "launchd", "--yes", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
    finally:
        for child in (old, new):
            child.kill()
            child.wait(timeout=30)
    assert report["command"] == f"launchctl kickstart -k gui/{uid}/{LABEL}"
    assert (report["pid_before"], report["pid_after"]) == (old.pid, new.pid)
    assert report["running"] is True
    if sys.platform.startswith("linux"):
        assert isinstance(report["fds_before"], int) and report["fds_before"] >= 3
        assert isinstance(report["fds_after"], int) and report["fds_after"] >= 3


def test_restart_systemd_unit_text(tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    tools.add_unit("hermes-work.service", ActiveState="active", MainPID="10")
    tools.update("systemd", next_pids=[11])
    assert main(["restart", "--manager", "systemd", "--unit", "hermes-work", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "ran: systemctl --user restart -- hermes-work.service" in out
    assert "restarted hermes-work.service: pid 10 → 11" in out
    assert ["systemctl", "--user", "restart", "--", "hermes-work.service"] in tools.calls()


def test_label_and_unit_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["restart", "--label", "a", "--unit", "b"])
    assert exit_info.value.code == 2


def test_restart_unknown_label_exits_1(tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restart", "--manager", "launchd", "--label", "ai.hermes.nope", "--yes"]) == 1
    assert capsys.readouterr().err == (
        "hermes-top: error: unknown launchd agent ai.hermes.nope: it is not loaded\n"
    )


def test_missing_systemctl_exits_1(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restart", "--manager", "systemd", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "hermes-top: error: systemctl not found on PATH (needed to run: systemctl"
    )
    assert err.count("\n") == 1


def test_status_json(home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    plist = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    write_plist(home.launch_agents / "ai.hermes.gateway.plist", rich_agent("ai.hermes.gateway"))
    tools.add_agent(LABEL, 4242, plist, last_exit="0")
    tools.add_agent("ai.hermes.gateway", None, "", last_exit="Terminated: 15")
    assert main(["status", "--manager", "launchd", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["manager"] == "launchd"
    dash, gw = data["agents"]
    assert (dash["name"], dash["loaded"], dash["pid"], dash["last_exit"]) == (
        LABEL,
        True,
        4242,
        "0",
    )
    assert (dash["fd_soft_limit"], dash["fd_limit_source"], dash["fd_limit_inferred"]) == (
        256,
        "launchctl",
        True,
    )
    assert (gw["name"], gw["kind"], gw["loaded"], gw["pid"], gw["last_exit"]) == (
        "ai.hermes.gateway",
        "gateway",
        True,
        None,
        "Terminated: 15",
    )


def test_status_text_systemd(home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]) -> None:
    tools.add_unit(UNIT, ActiveState="failed", MainPID="0", ExecMainStatus="1")
    assert main(["status", "--manager", "systemd"]) == 0
    out = capsys.readouterr().out
    assert f"dashboard {UNIT}: loaded (failed), no pid, last exit 1, NOFILE 1024/524288" in out


def test_doctor_reports_and_exits_1(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    assert main(["doctor", "--manager", "launchd"]) == 1
    out = capsys.readouterr().out
    assert "warning  plist-no-limits" in out
    assert "`hermes-top doctor --fix` fixes 1 of these." in out


def test_doctor_clean_exits_0(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--manager", "systemd"]) == 0
    assert "info     unit-missing" in capsys.readouterr().out


def test_doctor_orphans_from_the_scan(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = snapshot(processes=(proc(321, Role.SLASH_WORKER, State.ORPHAN),))
    monkeypatch.setattr(doctor, "default_snapshot_provider", lambda: snap)
    assert main(["doctor", "--manager", "systemd", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in data["findings"]] == ["unit-missing", "orphans"]
    assert data["exit_code"] == 1


def test_doctor_fix_binary_plist_prints_reload_commands(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str], uid: int
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(), plistlib.FMT_BINARY)
    assert (
        main(["doctor", "--manager", "launchd", "--fix", "--soft", "9000", "--hard", "18000"]) == 0
    )
    out = capsys.readouterr().out
    assert path.read_bytes().startswith(b"bplist00")
    assert read_plist(path)["SoftResourceLimits"] == {"NumberOfFiles": 9000}
    assert f"launchctl bootout gui/{uid} {path}" in out
    assert f"launchctl bootstrap gui/{uid} {path}" in out
    assert "backup: " in out
    assert not [c for c in tools.calls() if c[1] in ("bootout", "bootstrap")]


def test_doctor_fix_yes_runs_reload(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str], uid: int
) -> None:
    path = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    tools.add_agent(LABEL, 1, path)
    assert main(["doctor", "--manager", "launchd", "--fix", "--yes"]) == 0
    assert [c for c in tools.calls() if c[1] in ("bootout", "bootstrap")] == [
        ["launchctl", "bootout", f"gui/{uid}", str(path)],
        ["launchctl", "bootstrap", f"gui/{uid}", str(path)],
    ]
    assert f"ran: launchctl bootstrap gui/{uid} {path}" in capsys.readouterr().out


def test_doctor_fix_systemd_dropin_and_reload(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    (home.systemd_user / UNIT).write_text("[Service]\nExecStart=/bin/true\n")
    assert main(["doctor", "--manager", "systemd", "--fix"]) == 0
    dropin = home.systemd_user / f"{UNIT}.d" / "limits.conf"
    assert "LimitNOFILE=8192:16384" in dropin.read_text()
    assert tools.calls() == [["systemctl", "--user", "daemon-reload"]]
    assert "restart" in capsys.readouterr().out


def test_doctor_corrupt_explicit_plist(
    home: Home, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = home.launch_agents / "broken.plist"
    bad.write_bytes(b"<?xml version='1.0'?><plist><dict><key>")
    assert main(["doctor", "--plist", str(bad), "--fix"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hermes-top: error: cannot parse plist {bad}: ")
    assert err.count("\n") == 1
    assert bad.read_bytes() == b"<?xml version='1.0'?><plist><dict><key>"
    assert sorted(p.name for p in home.launch_agents.iterdir()) == ["broken.plist"]


def test_doctor_fix_failing_daemon_reload(
    home: Home, tools: Tools, capsys: pytest.CaptureFixture[str]
) -> None:
    (home.systemd_user / UNIT).write_text("[Service]\nExecStart=/bin/true\n")
    tools.fail("systemd", "daemon-reload", 1, "Failed to connect to bus: No medium found")
    assert main(["doctor", "--manager", "systemd", "--fix"]) == 1
    assert capsys.readouterr().err == (
        "hermes-top: error: systemctl --user daemon-reload failed (exit 1): "
        "Failed to connect to bus: No medium found\n"
    )


def test_doctor_yes_without_fix_is_usage_error(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--yes"]) == 2


def test_restart_is_journaled_before_and_after(
    tools: Tools, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("HERMES_TOP_STATE_DIR", str(state))
    tools.add_agent(LABEL, 4242)
    tools.update("launchd", next_pids=[4343])
    assert main(["restart", "--manager", "launchd", "--yes", "--json"]) == 0
    records = [json.loads(line) for line in (state / "signals.jsonl").read_text().splitlines()]
    assert [(r["event"], r["pid"], r["unit"]) for r in records] == [("restart", 4242, LABEL)] * 2
    assert records[0]["result"] == "starting" and records[0]["new_pid"] is None
    assert records[1]["new_pid"] == 4343 and "kickstart" in records[1]["command"]


def test_restart_without_a_journal_restarts_nothing(
    tools: Tools,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("HERMES_TOP_STATE_DIR", str(blocker / "state"))
    tools.add_agent(LABEL, 4242)
    assert main(["restart", "--manager", "launchd", "--yes"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("hermes-top: error: ") and err.count("\n") == 1
    assert not [c for c in tools.calls() if c[1] == "kickstart"]
