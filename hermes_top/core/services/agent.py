"""What the service code knows about one launchd agent or systemd user unit."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hermes_top.core.model import FdLimits


@dataclass(frozen=True)
class AgentRef:
    """A service we know by name: the configured dashboard, or one found on disk."""

    #: "dashboard" or "gateway".
    kind: str
    #: launchd label or systemd unit name.
    name: str
    #: The plist or unit file, when we found one.
    file: pathlib.Path | None = None


@dataclass(frozen=True)
class AgentStatus:
    manager: str
    kind: str
    name: str
    loaded: bool
    #: launchd "running"/"not running"..., systemd ActiveState ("active", "failed"...).
    state: str | None
    pid: int | None
    #: Last exit status as the manager tells it ("0", "(never exited)", "Terminated: 15").
    last_exit: str | None
    limits: FdLimits
    file: pathlib.Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "manager": self.manager,
            "kind": self.kind,
            "name": self.name,
            "loaded": self.loaded,
            "state": self.state,
            "pid": self.pid,
            "last_exit": self.last_exit,
            "fd_soft_limit": self.limits.soft,
            "fd_hard_limit": self.limits.hard,
            "fd_limit_source": self.limits.source,
            "fd_limit_inferred": self.limits.inferred,
            "fd_limit_detail": self.limits.detail,
            "file": str(self.file) if self.file else None,
        }


class ServiceManager(Protocol):
    """launchd or systemd, behind the same few calls."""

    name: str

    def describe(self, service: str) -> str:
        """How a user would name the service, e.g. ``launchd agent ai.hermes.dashboard``."""
        ...

    def known_agents(self) -> list[AgentRef]:
        """The configured dashboard first, then every Hermes agent found on disk."""
        ...

    def status(self, ref: AgentRef) -> AgentStatus: ...

    def restart_command(self, service: str) -> Sequence[str]: ...

    def restart(self, service: str) -> None:
        """Restart a loaded service; HermesTopError if the manager refuses."""
        ...
