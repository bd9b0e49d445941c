"""Service control beside the core, depending on it and never the other way:
who runs a dashboard and its restart (supervisor, relaunch), launchd and
systemd, plists and drop-ins, and ``doctor``. What the core needs of it comes
in by injection (``Core(supervisor=...)``)."""

from __future__ import annotations

from hermes_top.core.model import ServiceOutcome
from hermes_top.service.agent import AgentRef, AgentStatus, ServiceManager
from hermes_top.service.config import ServiceSettings, load_settings
from hermes_top.service.control import (
    RestartReport,
    agent_statuses,
    dashboard_name,
    get_manager,
    restart_agent,
)

__all__ = [
    "AgentRef",
    "AgentStatus",
    "RestartReport",
    "ServiceManager",
    "ServiceSettings",
    "agent_statuses",
    "dashboard_name",
    "get_manager",
    "load_settings",
    "restart_agent",
    "restart_dashboard_service",
]


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
