"""systemd user units: unit-file parsing, the drop-in writer, and systemctl via a stub."""

from __future__ import annotations

import datetime as dt

import pytest

from hermes_top.core.errors import HermesTopError
from hermes_top.service import restart_dashboard_service, systemd
from hermes_top.service.agent import AgentRef
from hermes_top.service.control import agent_statuses
from tests.services.helpers import Home, Tools

UNIT = "hermes-dashboard.service"
SHOW = "LoadState,ActiveState,MainPID,ExecMainStatus,LimitNOFILE,LimitNOFILESoft,FragmentPath"
UNIT_TEXT = (
    "[Unit]\nDescription=Hermes dashboard\n\n"
    "[Service]\nExecStart=/opt/hermes/bin/hermes dashboard\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8192:16384", (8192, 16384)),
        ("4096", (4096, 4096)),
        ("infinity", (None, None)),
        ("1024:infinity", (1024, None)),
    ],
)
def test_parse_limit_nofile(value: str, expected: tuple[int | None, int | None]) -> None:
    assert systemd.parse_limit_nofile(value) == expected


@pytest.mark.parametrize("value", ["lots", "1:2:3", ":5", "8k"])
def test_parse_limit_nofile_rejects_junk(value: str) -> None:
    with pytest.raises(ValueError):
        systemd.parse_limit_nofile(value)


def test_configured_nofile_follows_systemd_order(home: Home) -> None:
    d = home.systemd_user
    (d / UNIT).write_text(UNIT_TEXT + "LimitNOFILE=1024\n")
    assert systemd.configured_nofile(systemd.unit_files(d, UNIT)) == systemd.UnitNofile(
        1024, 1024, d / UNIT, "1024"
    )
    dropins = d / f"{UNIT}.d"
    dropins.mkdir()
    (dropins / "20-more.conf").write_text("[Service]\nLimitNOFILE=9000:20000\n")
    (dropins / "10-less.conf").write_text("[Service]\nLimitNOFILE=2048\n")
    (dropins / "ignored.txt").write_text("[Service]\nLimitNOFILE=1\n")
    got = systemd.configured_nofile(systemd.unit_files(d, UNIT))
    assert got is not None and (got.soft, got.hard, got.source.name) == (
        9000,
        20000,
        "20-more.conf",
    )
    # An empty assignment resets the setting; a key in [Unit] does not count.
    (dropins / "30-reset.conf").write_text("[Unit]\nLimitNOFILE=99999\n[Service]\nLimitNOFILE=\n")
    assert systemd.configured_nofile(systemd.unit_files(d, UNIT)) is None


def test_configured_nofile_names_a_bad_file(home: Home) -> None:
    path = home.systemd_user / UNIT
    path.write_text(UNIT_TEXT + "LimitNOFILE=plenty\n")
    with pytest.raises(HermesTopError, match=f"unit file {path}: invalid LimitNOFILE value"):
        systemd.configured_nofile([path])


def test_write_limits_dropin_new(home: Home) -> None:
    edit = systemd.write_limits_dropin(home.systemd_user, UNIT, 8192, 16384)
    assert edit.changed and edit.backup is None
    assert edit.path == home.systemd_user / f"{UNIT}.d" / "limits.conf"
    text = edit.path.read_text()
    assert "[Service]\nLimitNOFILE=8192:16384\n" in text
    again = systemd.write_limits_dropin(home.systemd_user, UNIT, 8192, 16384)
    assert not again.changed


def test_write_limits_dropin_keeps_other_settings_and_backs_up(home: Home) -> None:
    path = home.systemd_user / f"{UNIT}.d" / "limits.conf"
    path.parent.mkdir()
    original = "# mine\n[Service]\nLimitNOFILE=1024\nLimitNPROC=100\n[Unit]\nAfter=network.target\n"
    path.write_text(original)
    edit = systemd.write_limits_dropin(
        home.systemd_user, UNIT, 8192, 16384, now=dt.datetime(2026, 1, 2, 3, 4, 5)
    )
    assert edit.changed
    assert path.read_text() == (
        "# mine\n[Service]\nLimitNOFILE=8192:16384\nLimitNPROC=100\n[Unit]\nAfter=network.target\n"
    )
    assert edit.backup == path.with_name("limits.conf.hermes-top-20260102-030405.bak")
    assert edit.backup.read_text() == original


def test_write_limits_dropin_adds_service_section_when_missing(home: Home) -> None:
    path = home.systemd_user / f"{UNIT}.d" / "limits.conf"
    path.parent.mkdir()
    path.write_text("[Unit]\nAfter=network.target\n")
    systemd.write_limits_dropin(home.systemd_user, UNIT, 8192, 16384)
    assert path.read_text() == "[Unit]\nAfter=network.target\n[Service]\nLimitNOFILE=8192:16384\n"
    assert systemd.configured_nofile([path]) == systemd.UnitNofile(8192, 16384, path, "8192:16384")


def test_status_asks_systemctl_show(home: Home, tools: Tools) -> None:
    (home.systemd_user / UNIT).write_text(UNIT_TEXT)
    (home.systemd_user / "hermes-gateway-work.service").write_text(UNIT_TEXT)
    tools.add_unit(
        UNIT,
        ActiveState="active",
        MainPID="777",
        LimitNOFILE="16384",
        LimitNOFILESoft="8192",
        FragmentPath=str(home.systemd_user / UNIT),
    )
    manager = systemd.SystemdManager(home.settings("systemd"))

    dash, gateway = agent_statuses(manager)

    assert (dash.loaded, dash.state, dash.pid, dash.last_exit) == (True, "active", 777, "0")
    assert (dash.limits.soft, dash.limits.hard, dash.limits.source) == (8192, 16384, "systemd")
    assert (gateway.name, gateway.kind, gateway.loaded, gateway.pid) == (
        "hermes-gateway-work.service",
        "gateway",
        False,
        None,
    )
    assert tools.calls() == [
        ["systemctl", "--user", "show", "-p", SHOW, "--", UNIT],
        ["systemctl", "--user", "show", "-p", SHOW, "--", "hermes-gateway-work.service"],
    ]


def test_restart_runs_systemctl_user_restart(tools: Tools) -> None:
    tools.add_unit(UNIT, ActiveState="active", MainPID="777")
    tools.update("systemd", next_pids=[888])
    outcome = restart_dashboard_service("systemd")
    assert outcome.ok, outcome
    assert "pid 777 → 888" in outcome.summary
    assert ["systemctl", "--user", "restart", "--", UNIT] in tools.calls()
    assert tools.calls()[0] == ["systemctl", "--user", "show", "-p", SHOW, "--", UNIT]


def test_restart_unit_name_without_suffix(tools: Tools) -> None:
    tools.add_unit("hermes-dash2.service", ActiveState="active", MainPID="5")
    restart_dashboard_service("systemd", "hermes-dash2")
    assert ["systemctl", "--user", "restart", "--", "hermes-dash2.service"] in tools.calls()


def test_restart_of_unknown_unit_is_refused(tools: Tools) -> None:
    with pytest.raises(HermesTopError, match=r"unknown systemd user unit nope\.service"):
        restart_dashboard_service("systemd", "nope.service")
    assert not [c for c in tools.calls() if "restart" in c]


def test_restart_failure_quotes_stderr(tools: Tools) -> None:
    tools.add_unit(UNIT, ActiveState="active", MainPID="1")
    tools.fail("systemd", "restart", 1, "Job for hermes-dashboard.service failed.")
    with pytest.raises(HermesTopError) as err:
        restart_dashboard_service("systemd")
    assert str(err.value) == (
        "systemctl --user restart -- hermes-dashboard.service failed (exit 1): "
        "Job for hermes-dashboard.service failed."
    )


def test_restart_that_never_comes_up_is_not_ok(tools: Tools, home: Home) -> None:
    tools.add_unit(UNIT, ActiveState="active", MainPID="777")
    # The stub hands out the same PID again: no new main process appears.
    tools.update("systemd", next_pids=[777] * 50)
    from hermes_top.service.control import restart_agent

    manager = systemd.SystemdManager(home.settings("systemd"))
    report = restart_agent(manager, UNIT, wait_s=0.3)
    assert not report.running
    assert "not running yet" in report.summary


def test_missing_systemctl(home: Home) -> None:
    manager = systemd.SystemdManager(home.settings("systemd"))
    with pytest.raises(HermesTopError, match=r"^systemctl not found on PATH"):
        manager.status(AgentRef("dashboard", UNIT))


def test_daemon_reload_argv(tools: Tools, home: Home) -> None:
    assert systemd.SystemdManager(home.settings("systemd")).daemon_reload() == (
        "systemctl --user daemon-reload"
    )
    assert tools.calls() == [["systemctl", "--user", "daemon-reload"]]
    assert tools.state["systemd"]["reloads"] == 1


def test_unit_file_path_is_not_a_unit_name() -> None:
    from hermes_top.core.errors import UsageError
    from hermes_top.service.config import normalize_unit

    with pytest.raises(UsageError):
        normalize_unit("../../etc/passwd")
    assert normalize_unit("x") == "x.service"
    assert normalize_unit("x.timer") == "x.timer"
