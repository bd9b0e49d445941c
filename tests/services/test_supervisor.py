"""Who runs a dashboard, found from the process: systemd (cgroup + main PID),
launchd (XPC_SERVICE_NAME or the domain's job list), the desktop app, or a
relaunch — with the exact commands run, against stub systemctl/launchctl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hermes_top.core.model import (
    DashboardInfo,
    FdLimits,
    Identity,
    ProcessInfo,
    Role,
    State,
)
from hermes_top.core.platform import LinuxPlatform
from hermes_top.core.procfs import read_proc
from hermes_top.core.recovery import RestartKind
from hermes_top.service.supervisor import HermesSupervisor, unit_of
from tests.harness import REGISTRY
from tests.services.helpers import Tools

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

USER_UNIT = "0::/user.slice/user-0.slice/user@0.service/app.slice/hermes-dashboard.service"


@pytest.fixture
def dashboard_process() -> Iterator[ProcessInfo]:
    """A real process (a child of the test) standing for a hand-started dashboard."""
    argv = [sys.executable, "-c", "import time; time.sleep(60)", "dashboard", "--port", "9999"]
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    REGISTRY.register(child.pid, "supervisor test: dashboard stand-in")
    try:
        raw = read_proc(child.pid)
        assert raw is not None
        yield ProcessInfo(
            identity=Identity(child.pid, raw.create_time, os.geteuid(), tuple(argv), 0),
            ppid=os.getpid(),
            role=Role.DASHBOARD,
            state=State.LIVE,
            reason="dashboard",
            session_key=None,
            dashboard_pid=child.pid,
            host_pid=None,
            username="root",
            name="python3",
            status="S",
            age_s=1.0,
            num_fds=5,
            num_fds_error=None,
            cmdline=tuple(argv),
        )
    finally:
        child.kill()
        child.wait()


def _info(pid: int) -> DashboardInfo:
    return DashboardInfo(pid, 5, FdLimits(128, 128, "proc", False), 0, False, (), port=9999)


class _EnvPlatform(LinuxPlatform):
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env

    def environ(self, pid: int) -> dict[str, str] | None:
        return dict(self._env)


def _calls(tools: Tools) -> list[list[str]]:
    if not tools.log.exists():
        return []
    return [json.loads(line) for line in tools.log.read_text().splitlines()]


def test_unit_names_come_from_the_cgroup() -> None:
    assert unit_of(USER_UNIT) == ("hermes-dashboard.service", True)
    assert unit_of("0::/system.slice/hermes-dashboard.service") == (
        "hermes-dashboard.service",
        False,
    )
    assert unit_of("0::/user.slice/user-0.slice/session-3.scope") is None  # a login: by hand
    assert unit_of("0::/user.slice/user-0.slice/user@0.service") is None  # the manager itself
    assert unit_of("0::/system.slice/-evil.service") is None  # not a unit name


def test_a_systemd_user_unit_whose_main_pid_it_is(
    tools: Tools, dashboard_process: ProcessInfo
) -> None:
    tools.add_unit("hermes-dashboard.service", MainPID=str(dashboard_process.pid))
    sup = HermesSupervisor(cgroup=lambda pid: USER_UNIT)
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.SYSTEMD and method.possible and not method.stop_first
    assert method.command == "systemctl --user restart -- hermes-dashboard.service"
    result = sup.restart(dashboard_process, method, grace_s=1.0)
    assert result.ok, result
    assert ["systemctl", "--user", "restart", "--", "hermes-dashboard.service"] in [
        c[-5:] for c in _calls(tools)
    ]


def test_a_unit_that_does_not_run_it_is_not_restarted(
    tools: Tools, dashboard_process: ProcessInfo
) -> None:
    """Its cgroup names a unit, but the unit's main PID is someone else (a
    terminal, sshd): restarting that unit would not restart the dashboard."""
    tools.add_unit("hermes-dashboard.service", MainPID="1")
    sup = HermesSupervisor(cgroup=lambda pid: USER_UNIT)
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.RELAUNCH and method.stop_first
    assert not any("restart" in c for c in _calls(tools))


def test_a_launchd_job_named_by_its_environment(
    tools: Tools, dashboard_process: ProcessInfo
) -> None:
    tools.add_agent("ai.hermes.dashboard", dashboard_process.pid)
    env = {"XPC_SERVICE_NAME": "ai.hermes.dashboard"}
    sup = HermesSupervisor(system="darwin", platform=_EnvPlatform(env))
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.LAUNCHD
    assert method.command == f"launchctl kickstart -k gui/{os.geteuid()}/ai.hermes.dashboard"
    assert "XPC_SERVICE_NAME" in method.detail
    assert sup.restart(dashboard_process, method, grace_s=1.0).ok
    assert ["launchctl", "kickstart", "-k", f"gui/{os.geteuid()}/ai.hermes.dashboard"] in [
        c[-4:] for c in _calls(tools)
    ]


def test_a_launchd_job_found_by_its_pid_when_the_environment_is_hidden(
    tools: Tools, dashboard_process: ProcessInfo
) -> None:
    tools.add_agent("ai.hermes.gateway", 424242)
    tools.add_agent("ai.hermes.dashboard-work", dashboard_process.pid)
    sup = HermesSupervisor(system="darwin", platform=_EnvPlatform({"XPC_SERVICE_NAME": "0"}))
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.LAUNCHD
    assert method.command.endswith("/ai.hermes.dashboard-work")


def test_another_users_dashboard_needs_all_users(dashboard_process: ProcessInfo) -> None:
    sup = HermesSupervisor(my_uid=dashboard_process.uid + 1)
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert not method.possible and "--all-users" in method.detail


def test_a_desktop_backend_is_left_to_its_app(dashboard_process: ProcessInfo) -> None:
    sup = HermesSupervisor(platform=_EnvPlatform({"HERMES_DESKTOP": "1"}))
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.DESKTOP and method.stop_first
    assert method.data["respawns"] is True  # its parent (this test) is alive
    assert "never" not in method.command and "wait for" in method.command


def test_a_relaunch_shows_no_secret(dashboard_process: ProcessInfo) -> None:
    env = {"OPENAI_API_KEY": "sk-live-abcdefghijklmnopqrstuvwx", "HERMES_HOME": "/home-xyzzy"}
    sup = HermesSupervisor(cgroup=lambda pid: None, platform=_EnvPlatform(env))
    method = sup.method(dashboard_process, _info(dashboard_process.pid))
    assert method.kind is RestartKind.RELAUNCH and method.possible
    shown = method.command + method.detail
    assert "sk-live" not in shown and "xyzzy" not in shown
    assert "2 variables, not shown" in method.detail
    assert method.data["env"] == env and method.data["nofile"] is not None
