"""What the service code knows about one launchd agent or systemd user unit."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hermes_top.core.model import FdLimits
from hermes_top.service.config import MAX_NOFILE

#: Largest PID a supported kernel hands out (Linux pid_max is at most 2^22).
MAX_PID = 1 << 22
#: Longest path we take from a tool's output (PATH_MAX).
MAX_PATH = 4096


# What launchctl and systemctl print is parsed as hostile input: a value that is
# not plainly right is treated as absent, never acted on.


def _decimal(text: str | None, low: int, high: int) -> int | None:
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_pid(text: str | None) -> int | None:
    """A main PID from a tool's output, or None for anything but a plain decimal
    from 2 to MAX_PID that is not hermes-top itself (0 and 1 are never a job's)."""
    pid = _decimal(text, 2, MAX_PID)
    return None if pid == os.getpid() else pid


def parse_nofile(text: str | None) -> int | None:
    """A NOFILE limit from a tool's output (1 to MAX_NOFILE), else None."""
    return _decimal(text, 1, MAX_NOFILE)


def tool_text(text: str | None, limit: int = 100) -> str | None:
    """A word we only show (a state, an exit status): printable and short, else None."""
    if not text or len(text) > limit or not text.isprintable():
        return None
    return text


def tool_path(text: str | None) -> pathlib.Path | None:
    """A file path from a tool's output: absolute, printable, bounded; else None."""
    if not text or len(text) > MAX_PATH or not text.startswith("/"):
        return None
    if not text.isprintable():
        return None
    return pathlib.Path(text)


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
