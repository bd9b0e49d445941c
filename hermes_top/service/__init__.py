"""Service control beside the core, depending on it and never the other way:
who runs a dashboard and its restart (supervisor, relaunch), launchd and
systemd, plists and drop-ins, and ``doctor``. What the core needs of it comes
in by injection (``Core(supervisor=...)``).

The names below are imported on first use: ``hermes-top list`` reaches
``service.limits_macos`` and must not pay for plistlib, tomllib and subprocess.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
_HOME = {
    "AgentRef": "agent",
    "AgentStatus": "agent",
    "ServiceManager": "agent",
    "ServiceSettings": "config",
    "load_settings": "config",
    "RestartReport": "control",
    "agent_statuses": "control",
    "dashboard_name": "control",
    "get_manager": "control",
    "restart_agent": "control",
    "restart_dashboard_service": "control",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
