"""Where a macOS dashboard's FD limit comes from, since no API can read it.

Which agent plist belongs to a dashboard is decided here; the plist →
``launchctl limit maxfiles`` → launchd default chain is ``launchd.agent_fd_limits``,
the same one ``hermes-top status`` uses. Every answer is marked inferred.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes_top.core.model import FdLimits
from hermes_top.core.platform import MacPlatform, Platform, current_platform
from hermes_top.core.procfs import RawProc

if TYPE_CHECKING:
    from pathlib import Path  # annotations only: pathlib costs `list` 2 ms


def _pick_plist(plists: list[Path], profile: str | None) -> Path | None:
    if not plists:
        return None
    wanted = f"ai.hermes.dashboard-{profile}.plist" if profile else "ai.hermes.dashboard.plist"
    for path in plists:
        if path.name == wanted:
            return path
    return plists[0] if len(plists) == 1 else None


def infer_nofile_limits(
    proc: RawProc,
    *,
    profile: str | None = None,
    launch_agents_dir: Path | None = None,
    launchctl_maxfiles: Callable[[], tuple[int, int | None] | None] | None = None,
) -> FdLimits:
    if proc.ppid != 1:
        # Started from a shell or an app: it inherited a limit we cannot see.
        return FdLimits(None, None, "unknown", True, "not a launchd job; limit inherited")
    from hermes_top.service import launchd  # plistlib and launchctl: macOS only

    plist = _pick_plist(launchd.dashboard_plists(launch_agents_dir), profile)
    return launchd.agent_fd_limits(plist, launchctl_maxfiles)


def wired_platform() -> Platform:
    """This machine's platform; on macOS with the plist → launchctl → default chain
    plugged in (the core cannot read another process's limit there)."""
    found = current_platform()
    return MacPlatform(limit_source()) if isinstance(found, MacPlatform) else found


def limit_source(
    launch_agents_dir: Path | None = None,
    launchctl_maxfiles: Callable[[], tuple[int, int | None] | None] | None = None,
) -> Callable[[RawProc, str | None], FdLimits]:
    """The limit source MacPlatform is given (see core/platform.py)."""

    def infer(proc: RawProc, profile: str | None) -> FdLimits:
        return infer_nofile_limits(
            proc,
            profile=profile,
            launch_agents_dir=launch_agents_dir,
            launchctl_maxfiles=launchctl_maxfiles,
        )

    return infer
