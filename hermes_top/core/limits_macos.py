"""Where a macOS dashboard's FD limit comes from, since no API can read it.

Which agent plist belongs to a dashboard is decided here; the plist →
``launchctl limit maxfiles`` → launchd default chain is ``launchd.agent_fd_limits``,
the same one ``hermes-top status`` uses. Every answer is marked inferred.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hermes_top.core.model import FdLimits
from hermes_top.core.procfs import RawProc


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
    from hermes_top.core.services import launchd

    if proc.ppid != 1:
        # Started from a shell or an app: it inherited a limit we cannot see.
        return FdLimits(None, None, "unknown", True, "not a launchd job; limit inherited")
    plist = _pick_plist(launchd.dashboard_plists(launch_agents_dir), profile)
    return launchd.agent_fd_limits(plist, launchctl_maxfiles)
