"""``hermes-top doctor --fix``: raises plist limits or writes a systemd drop-in,
and deletes leftover temp files older than an hour (the findings are
service/doctor.py's). Nothing here prompts or prints.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from hermes_top.core.safe_files import UnsafePath, open_dir
from hermes_top.service import plists, runner
from hermes_top.service.config import ServiceSettings
from hermes_top.service.doctor import Finding, FixResult, limit_text
from hermes_top.service.launchd import LaunchdManager
from hermes_top.service.systemd import (
    SystemdManager,
    configured_nofile,
    unit_files,
    write_limits_dropin,
)

PLIST_FIXES = frozenset({"plist-no-limits", "plist-low-limits", "plist-soft-above-hard"})


def remaining_findings(findings: Sequence[Finding], fixes: Sequence[FixResult]) -> list[Finding]:
    """The findings no fix resolved: these decide the exit status after ``--fix``."""
    resolved = [x.finding for x in fixes if x.resolved and x.finding is not None]
    return [f for f in findings if not any(f is r for r in resolved)]


def apply_fixes(
    findings: Sequence[Finding], settings: ServiceSettings, *, reload: bool
) -> list[FixResult]:
    """Fix what can be fixed. ``reload``: also run launchctl bootout/bootstrap."""
    results: list[FixResult] = []
    units_changed = False
    for finding in findings:
        if finding.fix is None:
            continue
        if finding.code in PLIST_FIXES and finding.path:
            results.append(_fix_plist(finding, settings, reload=reload))
        elif finding.code in ("unit-no-limit", "unit-low-limit") and finding.name:
            result = _fix_unit(finding, settings)
            units_changed = units_changed or result.changed
            results.append(result)
        elif finding.code == "pty-files":
            results.append(_remove_files(finding))
    if units_changed:
        command = SystemdManager(settings).daemon_reload()
        results.append(
            FixResult(
                "daemon-reload",
                "systemd --user",
                True,
                "systemd re-read the units; restart them for the new limit to apply "
                "(`hermes-top restart`)",
                ran_commands=(command,),
            )
        )
    return results


def _fix_plist(finding: Finding, settings: ServiceSettings, *, reload: bool) -> FixResult:
    assert finding.path is not None
    edit = plists.set_nofile_limits(finding.path, settings.soft_limit, settings.hard_limit)
    manager = LaunchdManager(settings)
    commands = [runner.format_command(argv) for argv in manager.reload_commands(edit.path)]
    message = (
        f"NumberOfFiles {limit_text(edit.before.soft)}/{limit_text(edit.before.hard)} → "
        f"{edit.after.soft}/{edit.after.hard}"
    )
    if edit.note:
        message += f" ({edit.note})"
    if not edit.changed:
        return FixResult(finding.code, str(edit.path), False, "already fixed", finding=finding)
    if reload and finding.name is not None:
        ran = manager.reload(edit.path, finding.name)
        return FixResult(
            finding.code,
            str(edit.path),
            True,
            message + "; agent reloaded",
            backup=edit.backup,
            ran_commands=tuple(ran),
            finding=finding,
        )
    todo = (
        "its Label is not a launchd label hermes-top passes to launchctl; reload it yourself"
        if reload
        else "reload the agent for it to apply (or rerun with --yes)"
    )
    return FixResult(
        finding.code,
        str(edit.path),
        True,
        f"{message}; {todo}",
        backup=edit.backup,
        pending_commands=tuple(commands),
        finding=finding,
    )


def _fix_unit(finding: Finding, settings: ServiceSettings) -> FixResult:
    assert finding.name is not None
    edit = write_limits_dropin(
        settings.systemd_user_dir, finding.name, settings.soft_limit, settings.hard_limit
    )
    # A drop-in sorting after ours may still override it: say so rather than claim success.
    effective = configured_nofile(unit_files(settings.systemd_user_dir, finding.name))
    message = f"wrote {edit.path}" if edit.changed else f"{edit.path} already set"
    resolved = effective is not None and effective.source == edit.path
    if effective is not None and not resolved:
        message += f"; but {effective.source} overrides it with LimitNOFILE={effective.raw}"
    return FixResult(
        finding.code,
        finding.name,
        edit.changed,
        message,
        backup=edit.backup,
        finding=finding,
        resolved=resolved,
    )


def _remove_files(finding: Finding) -> FixResult:
    removed = 0
    me = os.getuid()
    for path in finding.files:
        # By dir fd, and only if it is still our own regular file: the temp dir is
        # shared, and what was there at check time may have been swapped since.
        try:
            with open_dir(path.parent) as d:
                st = d.lstat(path.name)
                if st is None or not stat.S_ISREG(st.st_mode) or st.st_uid != me:
                    continue
                d.unlink(path.name)
                removed += 1
        except (OSError, UnsafePath):
            continue
    return FixResult(
        finding.code,
        finding.subject,
        removed > 0,
        f"removed {removed} leftover active-session file(s)",
        finding=finding,
    )
