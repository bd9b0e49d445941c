"""Where a macOS dashboard's FD limit comes from, since no API can read it.

Order: the agent plist's SoftResourceLimits/HardResourceLimits NumberOfFiles,
else ``launchctl limit maxfiles``, else launchd's default (256). Every answer is
marked inferred: it is what launchd *should* have applied, not a reading.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import FdLimits
from hermes_top.core.procfs import RawProc

LAUNCHD_DEFAULT_SOFT = 256


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
    if plist is not None:
        try:
            numbers = launchd.read_plist_nofile(plist)
        except HermesTopError as err:
            numbers = None
            plist_note = f"; {err}"
        else:
            plist_note = ""
        if numbers is not None and numbers[0] is not None:
            return FdLimits(numbers[0], numbers[1], "plist", True, str(plist))
    else:
        plist_note = ""
    maxfiles = (launchctl_maxfiles or launchd.launchctl_maxfiles)()
    if maxfiles is not None:
        return FdLimits(
            maxfiles[0], maxfiles[1], "launchctl", True, "launchctl limit maxfiles" + plist_note
        )
    return FdLimits(
        LAUNCHD_DEFAULT_SOFT, None, "default", True, "launchd default for agents" + plist_note
    )
