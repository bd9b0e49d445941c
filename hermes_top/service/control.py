"""Status and restart of Hermes agents, whatever manages them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.journal import Journal
from hermes_top.core.model import ServiceOutcome
from hermes_top.core.platform import current_platform
from hermes_top.service import runner
from hermes_top.service.agent import AgentRef, AgentStatus, ServiceManager
from hermes_top.service.config import ServiceSettings, load_settings
from hermes_top.service.launchd import LaunchdManager
from hermes_top.service.systemd import SystemdManager


def get_manager(settings: ServiceSettings) -> LaunchdManager | SystemdManager:
    if settings.manager == "launchd":
        return LaunchdManager(settings)
    return SystemdManager(settings)


def dashboard_name(settings: ServiceSettings) -> str:
    return settings.label if settings.manager == "launchd" else settings.unit


def fd_count(pid: int | None) -> int | None:
    """Open FDs of ``pid`` (the core's platform seam); None when gone or not ours to see."""
    return current_platform().num_fds(pid)[0] if pid else None


def agent_statuses(manager: ServiceManager) -> list[AgentStatus]:
    return [manager.status(ref) for ref in manager.known_agents()]


def find_agent(manager: ServiceManager, name: str) -> AgentRef:
    for ref in manager.known_agents():
        if ref.name == name:
            return ref
    return AgentRef("dashboard" if "dashboard" in name else "gateway", name)


def loaded_status(manager: ServiceManager, name: str) -> AgentStatus:
    """Status of ``name``; HermesTopError if the manager does not know it."""
    status = manager.status(find_agent(manager, name))
    if not status.loaded:
        raise HermesTopError(f"unknown {manager.describe(name)}: it is not loaded")
    return status


@dataclass(frozen=True)
class RestartReport:
    manager: str
    name: str
    command: str
    pid_before: int | None
    pid_after: int | None
    fds_before: int | None
    fds_after: int | None
    #: True when a (new) main PID showed up after the restart.
    running: bool

    @property
    def summary(self) -> str:
        pids = f"pid {_show(self.pid_before)} → {_show(self.pid_after)}"
        fds = f"FDs {_show(self.fds_before)} → {_show(self.fds_after)}"
        if not self.running:
            return f"restarted {self.name} but it is not running yet ({pids})"
        return f"restarted {self.name}: {pids}, {fds}"

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": self.manager,
            "name": self.name,
            "command": self.command,
            "pid_before": self.pid_before,
            "pid_after": self.pid_after,
            "fds_before": self.fds_before,
            "fds_after": self.fds_after,
            "running": self.running,
        }


def _show(value: int | None) -> str:
    return "-" if value is None else str(value)


def restart_agent(
    manager: ServiceManager,
    name: str,
    *,
    before: AgentStatus | None = None,
    wait_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    journal: Journal | None = None,
) -> RestartReport:
    """Restart a loaded agent and wait (up to ``wait_s``) for its new main PID.

    Journaled like every restart: a "starting" record first (when it cannot be
    written nothing is restarted), then the result."""
    before = before or loaded_status(manager, name)
    fds_before = fd_count(before.pid)
    command = runner.format_command(manager.restart_command(name))
    writer = (journal or Journal()).for_action()
    writer.open()  # raises: no journal, no restart
    try:
        record = {
            "event": "restart",
            "pid": before.pid,
            "how": manager.name,
            "unit": name,
            "command": command,
        }
        if not writer.write({**record, "result": "starting", "new_pid": None}):
            raise HermesTopError(
                f"cannot write the journal ({writer.path}): {name} was not restarted"
            )
        try:
            manager.restart(name)
        except HermesTopError as err:
            writer.write({**record, "result": f"failed: {err}", "new_pid": None})
            raise
        report = _wait_restarted(manager, name, before, command, fds_before, wait_s, sleep)
        writer.write({**record, "result": report.summary, "new_pid": report.pid_after})
        return report
    finally:
        writer.close()


def _wait_restarted(
    manager: ServiceManager,
    name: str,
    before: AgentStatus,
    command: str,
    fds_before: int | None,
    wait_s: float,
    sleep: Callable[[float], None],
) -> RestartReport:
    after = manager.status(find_agent(manager, name))
    deadline = time.monotonic() + wait_s
    # launchd/systemd return once the job is asked to start, before it has a PID.
    while not _restarted(before, after) and time.monotonic() < deadline:
        sleep(0.2)
        after = manager.status(find_agent(manager, name))
    running = _restarted(before, after)
    return RestartReport(
        manager.name,
        name,
        command,
        before.pid,
        after.pid,
        fds_before,
        fd_count(after.pid) if running else None,
        running,
    )


def _restarted(before: AgentStatus, after: AgentStatus) -> bool:
    return after.pid is not None and after.pid != before.pid


def restart_dashboard_service(
    manager: str | None = None,
    name: str | None = None,
    *,
    settings: ServiceSettings | None = None,
) -> ServiceOutcome:
    """Restart the dashboard agent/unit (no prompt: the caller has asked the user).

    ``manager`` is ``launchd``/``systemd`` (default: by platform or config);
    ``name`` is the label or unit (default: config, else ``ai.hermes.dashboard`` /
    ``hermes-dashboard.service``). Raises HermesTopError when the manager's tool is
    missing, the agent is unknown, or the restart command fails.
    """
    settings = (settings or load_settings()).with_overrides(manager=manager)
    if name:
        settings = settings.with_overrides(
            label=name if settings.manager == "launchd" else None,
            unit=name if settings.manager == "systemd" else None,
        )
    report = restart_agent(get_manager(settings), dashboard_name(settings))
    return ServiceOutcome(ok=report.running, summary=report.summary, detail=report.command)
