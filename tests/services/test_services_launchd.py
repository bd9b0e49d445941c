"""launchd on Linux: the real module against a stateful stub launchctl on $PATH."""

from __future__ import annotations

import plistlib

import pytest

from hermes_top.core.errors import HermesTopError
from hermes_top.service import launchd, restart_dashboard_service
from hermes_top.service.agent import AgentRef
from hermes_top.service.control import agent_statuses
from tests.services.helpers import Home, Tools
from tests.services.plist_samples import limits, rich_agent, write_plist

LABEL = "ai.hermes.dashboard"


def test_parse_maxfiles() -> None:
    assert launchd.parse_maxfiles("\tmaxfiles    256            unlimited      \n") == (256, None)
    assert launchd.parse_maxfiles("maxfiles 10240 10240") == (10240, 10240)
    assert launchd.parse_maxfiles("maxfiles unlimited unlimited") is None
    assert launchd.parse_maxfiles("") is None


def test_launchctl_maxfiles_runs_the_exact_command(tools: Tools) -> None:
    assert launchd.launchctl_maxfiles() == (256, None)
    assert tools.calls() == [["launchctl", "limit", "maxfiles"]]
    tools.update("launchd", maxfiles=[4096, 8192])
    assert launchd.launchctl_maxfiles() == (4096, 8192)


def test_launchctl_maxfiles_is_none_when_launchctl_is_missing_or_fails(tools: Tools) -> None:
    tools.update("launchd", maxfiles=None)
    assert launchd.launchctl_maxfiles() is None
    tools.remove("launchctl")
    assert launchd.launchctl_maxfiles() is None


def test_dashboard_and_gateway_plists_are_found(home: Home) -> None:
    for name in (
        "ai.hermes.dashboard.plist",
        "ai.hermes.dashboard-work.plist",
        "ai.hermes.gateway.plist",
        "com.example.other.plist",
        "ai.hermes.dashboard.plist.hermes-top-20260101-000000.bak",
    ):
        (home.launch_agents / name).write_bytes(b"")
    assert [p.name for p in launchd.dashboard_plists(home.launch_agents)] == [
        "ai.hermes.dashboard-work.plist",
        "ai.hermes.dashboard.plist",
    ]
    # Default directory: ~/Library/LaunchAgents of $HOME.
    assert launchd.dashboard_plists() == launchd.dashboard_plists(home.launch_agents)
    assert [p.name for p in launchd.gateway_plists(home.launch_agents)] == [
        "ai.hermes.gateway.plist"
    ]


def test_agent_fd_limits_says_where_the_numbers_come_from(home: Home, tools: Tools) -> None:
    with_limits = write_plist(home.launch_agents / "a.plist", rich_agent(**limits(8192, None)))
    without = write_plist(home.launch_agents / "b.plist", rich_agent())

    from_plist = launchd.agent_fd_limits(with_limits)
    assert (from_plist.soft, from_plist.hard, from_plist.source) == (8192, None, "plist")
    assert from_plist.inferred

    from_launchctl = launchd.agent_fd_limits(without)
    assert (from_launchctl.soft, from_launchctl.hard) == (256, None)
    assert from_launchctl.source == "launchctl" and from_launchctl.inferred

    tools.remove("launchctl")
    default = launchd.agent_fd_limits(without)
    assert (default.soft, default.source, default.inferred) == (256, "default", True)


def test_parse_print_ignores_nested_blocks() -> None:
    text = (
        "gui/501/ai.hermes.dashboard = {\n"
        "\tstate = running\n"
        "\tenvironment = {\n\t\tpid = 1\n\t}\n"
        "\tpid = 4242\n"
        "\tlast exit code = 0\n"
        "}\n"
    )
    fields = launchd.parse_print(text)
    assert fields["pid"] == "4242"
    assert fields["state"] == "running"
    assert fields["last exit code"] == "0"


def test_status_of_loaded_and_unloaded_agents(home: Home, tools: Tools, uid: int) -> None:
    plist = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(**limits(8192, 16384)))
    write_plist(
        home.launch_agents / "ai.hermes.gateway-work.plist", rich_agent("ai.hermes.gateway-work")
    )
    tools.add_agent(LABEL, 4242, plist, last_exit="0")
    manager = launchd.LaunchdManager(home.settings())

    dash, gateway = agent_statuses(manager)

    assert (dash.kind, dash.name, dash.loaded, dash.pid, dash.state) == (
        "dashboard",
        LABEL,
        True,
        4242,
        "running",
    )
    assert dash.last_exit == "0"
    assert (dash.limits.soft, dash.limits.hard, dash.limits.source) == (8192, 16384, "plist")
    assert dash.file == plist
    assert (gateway.kind, gateway.name, gateway.loaded, gateway.pid) == (
        "gateway",
        "ai.hermes.gateway-work",
        False,
        None,
    )
    # The gateway plist sets no limits: launchctl's maxfiles applies.
    assert gateway.limits.source == "launchctl"
    prints = [c for c in tools.calls() if c[1] == "print"]
    assert prints == [
        ["launchctl", "print", f"gui/{uid}/{LABEL}"],
        ["launchctl", "print", f"gui/{uid}/ai.hermes.gateway-work"],
    ]


def test_status_error_other_than_not_found_is_reported(home: Home, tools: Tools) -> None:
    tools.fail("launchd", "print", 1, "Bad request.\nmore detail")
    manager = launchd.LaunchdManager(home.settings())
    with pytest.raises(HermesTopError) as err:
        manager.status(AgentRef("dashboard", LABEL))
    assert (
        str(err.value)
        == f"launchctl print gui/{manager.settings.uid}/{LABEL} failed (exit 1): Bad request."
    )


def test_restart_kickstarts_and_reports_the_new_pid(home: Home, tools: Tools, uid: int) -> None:
    tools.add_agent(LABEL, 4242)
    tools.update("launchd", next_pids=[5555])

    outcome = restart_dashboard_service("launchd")

    assert outcome.ok
    assert "pid 4242 → 5555" in outcome.summary
    assert outcome.detail == f"launchctl kickstart -k gui/{uid}/{LABEL}"
    assert ["launchctl", "kickstart", "-k", f"gui/{uid}/{LABEL}"] in tools.calls()
    assert tools.state["launchd"]["services"][LABEL]["pid"] == 5555


def test_restart_with_a_custom_label(tools: Tools, uid: int) -> None:
    tools.add_agent("ai.hermes.dashboard-work", 10)
    restart_dashboard_service("launchd", "ai.hermes.dashboard-work")
    kicks = [c for c in tools.calls() if c[1] == "kickstart"]
    assert kicks == [["launchctl", "kickstart", "-k", f"gui/{uid}/ai.hermes.dashboard-work"]]


def test_restart_of_an_unknown_label_fails_without_kickstart(tools: Tools) -> None:
    with pytest.raises(
        HermesTopError, match=r"unknown launchd agent ai\.hermes\.nope: it is not loaded"
    ):
        restart_dashboard_service("launchd", "ai.hermes.nope")
    assert not [c for c in tools.calls() if c[1] == "kickstart"]


def test_failed_kickstart_names_the_command_and_stderr(tools: Tools, uid: int) -> None:
    tools.add_agent(LABEL, 4242)
    tools.fail(
        "launchd",
        "kickstart",
        150,
        "Operation not permitted while System Integrity Protection is engaged",
    )
    with pytest.raises(HermesTopError) as err:
        restart_dashboard_service("launchd")
    assert str(err.value) == (
        f"launchctl kickstart -k gui/{uid}/{LABEL} failed (exit 150): "
        "Operation not permitted while System Integrity Protection is engaged"
    )
    assert err.value.exit_code == 1


def test_missing_launchctl_is_a_clear_error(home: Home) -> None:
    # The autouse fixture leaves PATH with no launchctl on it.
    with pytest.raises(HermesTopError) as err:
        restart_dashboard_service("launchd")
    assert str(err.value).startswith(
        "launchctl not found on PATH (needed to run: launchctl print gui/"
    )


def test_reload_boots_out_then_in(home: Home, tools: Tools, uid: int) -> None:
    plist = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent(), plistlib.FMT_BINARY)
    tools.add_agent(LABEL, 4242, plist)
    manager = launchd.LaunchdManager(home.settings())

    ran = manager.reload(plist, LABEL)

    domain = f"gui/{uid}"
    assert ran == [f"launchctl bootout {domain} {plist}", f"launchctl bootstrap {domain} {plist}"]
    assert [c for c in tools.calls() if c[1] in ("bootout", "bootstrap")] == [
        ["launchctl", "bootout", domain, str(plist)],
        ["launchctl", "bootstrap", domain, str(plist)],
    ]
    assert LABEL in tools.state["launchd"]["services"]


def test_reload_of_an_unloaded_agent_only_bootstraps(home: Home, tools: Tools, uid: int) -> None:
    plist = write_plist(home.launch_agents / f"{LABEL}.plist", rich_agent())
    manager = launchd.LaunchdManager(home.settings())
    assert manager.reload(plist, LABEL) == [f"launchctl bootstrap gui/{uid} {plist}"]
