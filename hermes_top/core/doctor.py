"""``hermes-top doctor``: what is wrong with this machine's Hermes set-up, and fixes.

Checks (each a :class:`Finding` with a severity):

- the dashboard (and gateway) launchd plists: ``NumberOfFiles`` limits missing
  (the agent then runs at launchd's default soft limit of 256) or below target;
- the systemd user units: no ``LimitNOFILE`` in the unit or its drop-ins, or too low;
- a dashboard using over 80% of its FD limit, orphaned or zombie workers (from a
  process scan, injected as ``snapshot_provider``);
- ``hermes-pty-active-*.json`` files the dashboard leaves in the temp dir for every
  chat connection and never deletes, that no live tui refers to.

:func:`apply_fixes` raises plist limits / writes a systemd drop-in, and deletes the
leftover temp files older than an hour. Nothing here prompts or prints.
"""

from __future__ import annotations

import contextlib
import enum
import os
import pathlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import FD_CRITICAL_RATIO, FD_HIGH_RATIO, Snapshot, State
from hermes_top.core.services import plists, runner
from hermes_top.core.services.config import ServiceSettings
from hermes_top.core.services.launchd import (
    LAUNCHD_DEFAULT_SOFT,
    LaunchdManager,
    dashboard_plists,
    gateway_plists,
)
from hermes_top.core.services.systemd import (
    DASHBOARD_GLOB,
    GATEWAY_GLOB,
    SystemdManager,
    configured_nofile,
    unit_files,
    write_limits_dropin,
)

PTY_FILE_GLOB = "hermes-pty-active-*.json"
ACTIVE_FILE_ENV = "HERMES_TUI_ACTIVE_SESSION_FILE"
#: A younger file may belong to a tui that is starting up, or whose env we could not read.
PTY_FILE_MIN_AGE_S = 3600.0


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    severity: Severity
    #: Stable id for scripts: plist-no-limits, plist-low-limits, plist-unreadable,
    #: plist-missing, unit-no-limit, unit-low-limit, unit-missing, dashboard-fds,
    #: orphans, stale, zombies, pty-files, scan-skipped, unit-unreadable.
    code: str
    #: What the finding is about: a file, a unit, a pid, the temp dir.
    subject: str
    message: str
    #: What ``--fix`` would do; None when doctor cannot fix it.
    fix: str | None = None
    #: Data the fix needs (plist path, unit name, files to delete).
    path: pathlib.Path | None = None
    name: str | None = None
    files: tuple[pathlib.Path, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.label,
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class FixResult:
    code: str
    subject: str
    changed: bool
    message: str
    backup: pathlib.Path | None = None
    #: Commands still to run by hand (launchctl bootout/bootstrap without --yes).
    pending_commands: tuple[str, ...] = ()
    #: Commands that were run.
    ran_commands: tuple[str, ...] = ()
    #: The finding this fixes (None for follow-up steps such as daemon-reload).
    finding: Finding | None = field(default=None, compare=False)
    #: False when the change was made but the problem remains (an overriding drop-in).
    resolved: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "subject": self.subject,
            "changed": self.changed,
            "message": self.message,
            "backup": str(self.backup) if self.backup else None,
            "pending_commands": list(self.pending_commands),
            "ran_commands": list(self.ran_commands),
        }


@dataclass(frozen=True)
class TuiReferences:
    """Active-session files named by live tuis, by file name."""

    names: frozenset[str]
    #: Live tuis of this user whose environment could not be read: while any
    #: exist, no file can be proven unreferenced.
    unreadable: int = 0


SnapshotProvider = Callable[[], Snapshot]
ReferenceProvider = Callable[[], TuiReferences]


@dataclass
class DoctorRequest:
    settings: ServiceSettings
    #: An explicit plist (``--plist``): checked even under systemd; must parse.
    plist: pathlib.Path | None = None
    #: An explicit unit (``--unit``): checked even under launchd; must exist.
    unit: str | None = None
    #: None → scan with the engine if it is importable.
    snapshot_provider: SnapshotProvider | None = None
    references: ReferenceProvider | None = None
    now: float = field(default_factory=time.time)


def max_severity(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when any finding is a warning or worse, else 0."""
    worst = max_severity(findings)
    return 1 if worst is not None and worst >= Severity.WARNING else 0


def run_checks(request: DoctorRequest) -> list[Finding]:
    settings = request.settings
    findings: list[Finding] = []
    check_launchd = request.plist is not None or (
        settings.manager == "launchd" and request.unit is None
    )
    check_systemd = request.unit is not None or (
        settings.manager == "systemd" and request.plist is None
    )
    if check_launchd:
        findings += _plist_findings(request)
    if check_systemd:
        findings += _unit_findings(request)
    findings += _process_findings(request.snapshot_provider)
    findings += _pty_file_findings(settings.temp_dir, request.references, request.now)
    return findings


# --- launchd plists -------------------------------------------------------------------


def _plist_findings(request: DoctorRequest) -> list[Finding]:
    settings = request.settings
    if request.plist is not None:
        # An explicit file must be usable: load errors propagate as one clear line.
        plists.load_plist(request.plist)
        return _check_plist(request.plist, "dashboard", settings, strict=True)
    directory = settings.launch_agents_dir
    dashboards = dashboard_plists(directory)
    configured = directory / f"{settings.label}.plist"
    if configured.is_file() and configured not in dashboards:
        dashboards.insert(0, configured)
    findings: list[Finding] = []
    if not dashboards:
        findings.append(
            Finding(
                Severity.INFO,
                "plist-missing",
                str(directory),
                f"no dashboard agent plist ({settings.label}.plist) here: nothing to check",
            )
        )
    for path in dashboards:
        findings += _check_plist(path, "dashboard", settings, strict=False)
    for path in gateway_plists(directory):
        findings += _check_plist(path, "gateway", settings, strict=False)
    return findings


def _check_plist(
    path: pathlib.Path, kind: str, settings: ServiceSettings, *, strict: bool
) -> list[Finding]:
    try:
        plist = plists.load_plist(path)
        limits = plists.nofile_limits(plist.data, path)
    except HermesTopError as err:
        if strict:
            raise
        return [Finding(Severity.ERROR, "plist-unreadable", str(path), str(err))]
    label = plist.data.get("Label")
    name = label if isinstance(label, str) else path.stem
    # A gateway holds fewer FDs than a dashboard: worth knowing, not an alarm.
    severity = Severity.WARNING if kind == "dashboard" else Severity.INFO
    fix = (
        f"set NumberOfFiles to {settings.soft_limit} soft / {settings.hard_limit} hard, "
        "then reload the agent"
    )
    if not limits.is_set:
        return [
            Finding(
                severity,
                "plist-no-limits",
                str(path),
                f"{kind} agent {name} sets no SoftResourceLimits/HardResourceLimits "
                f"NumberOfFiles: it runs at launchd's maxfiles "
                f"({LAUNCHD_DEFAULT_SOFT} soft by default)",
                fix=fix,
                path=path,
                name=name,
            )
        ]
    if (limits.soft or 0) < settings.soft_limit or (limits.hard or 0) < settings.hard_limit:
        return [
            Finding(
                severity,
                "plist-low-limits",
                str(path),
                f"{kind} agent {name} NumberOfFiles is {_limit(limits.soft)} soft / "
                f"{_limit(limits.hard)} hard, below {settings.soft_limit} / "
                f"{settings.hard_limit}",
                fix=fix,
                path=path,
                name=name,
            )
        ]
    return []


def _limit(value: int | None, unset: str = "unset") -> str:
    return unset if value is None else str(value)


# --- systemd units --------------------------------------------------------------------


def _unit_findings(request: DoctorRequest) -> list[Finding]:
    settings = request.settings
    directory = settings.systemd_user_dir
    if request.unit is not None:
        if not unit_files(directory, request.unit):
            raise HermesTopError(f"unit file {request.unit} not found in {directory}")
        return _check_unit(request.unit, "dashboard", settings)
    units: list[tuple[str, str]] = [("dashboard", settings.unit)]
    if directory.is_dir():
        for kind, pattern in (("dashboard", DASHBOARD_GLOB), ("gateway", GATEWAY_GLOB)):
            units += [(kind, p.name) for p in sorted(directory.glob(pattern)) if p.is_file()]
    findings: list[Finding] = []
    seen: set[str] = set()
    for kind, unit in units:
        if unit in seen:
            continue
        seen.add(unit)
        if not unit_files(directory, unit):
            if unit == settings.unit:
                findings.append(
                    Finding(
                        Severity.INFO,
                        "unit-missing",
                        str(directory),
                        f"no {unit} here: nothing to check",
                    )
                )
            continue
        findings += _check_unit(unit, kind, settings)
    return findings


def _check_unit(unit: str, kind: str, settings: ServiceSettings) -> list[Finding]:
    directory = settings.systemd_user_dir
    try:
        configured = configured_nofile(unit_files(directory, unit))
    except HermesTopError as err:
        return [Finding(Severity.ERROR, "unit-unreadable", unit, str(err))]
    severity = Severity.WARNING if kind == "dashboard" else Severity.INFO
    fix = (
        f"write {directory / (unit + '.d') / 'limits.conf'} with "
        f"LimitNOFILE={settings.soft_limit}:{settings.hard_limit}, then daemon-reload"
    )
    if configured is None:
        return [
            Finding(
                severity,
                "unit-no-limit",
                unit,
                f"{kind} unit {unit} sets no LimitNOFILE (unit file or *.d/*.conf drop-ins): "
                "it runs with the manager's default (often 1024 soft)",
                fix=fix,
                name=unit,
            )
        ]
    soft_ok = configured.soft is None or configured.soft >= settings.soft_limit
    hard_ok = configured.hard is None or configured.hard >= settings.hard_limit
    if not (soft_ok and hard_ok):
        return [
            Finding(
                severity,
                "unit-low-limit",
                unit,
                f"{kind} unit {unit} has LimitNOFILE={configured.raw} (in "
                f"{configured.source}), below {settings.soft_limit}:{settings.hard_limit}",
                fix=fix,
                name=unit,
            )
        ]
    return []


# --- processes ------------------------------------------------------------------------


def default_snapshot_provider() -> Snapshot | None:
    """One scan by the engine, or None when the engine is not available."""
    try:
        from hermes_top.core.engine import Core
    except ImportError:
        return None
    snapshot: Snapshot = Core(pin=False).scan()
    return snapshot


def _process_findings(provider: SnapshotProvider | None) -> list[Finding]:
    try:
        snapshot = provider() if provider is not None else default_snapshot_provider()
    except (HermesTopError, psutil.Error, OSError) as err:
        return [Finding(Severity.INFO, "scan-skipped", "processes", f"process scan failed: {err}")]
    if snapshot is None:
        return [
            Finding(
                Severity.INFO,
                "scan-skipped",
                "processes",
                "process checks skipped: the process scanner is not available",
            )
        ]
    return snapshot_findings(snapshot)


def snapshot_findings(snapshot: Snapshot) -> list[Finding]:
    """FD pressure on dashboards and leaked workers, from one scan."""
    findings: list[Finding] = []
    for dash in snapshot.dashboards:
        ratio = dash.fd_ratio
        if ratio is None or ratio <= FD_HIGH_RATIO:
            continue
        severity = Severity.ERROR if ratio >= FD_CRITICAL_RATIO else Severity.WARNING
        freeable = (
            f"; reaping its leaked workers frees ~{dash.reclaimable_fds}"
            if dash.reclaimable_fds
            else ""
        )
        findings.append(
            Finding(
                severity,
                "dashboard-fds",
                f"pid {dash.pid}",
                f"dashboard pid {dash.pid} uses {dash.num_fds} of {dash.limits.soft} FDs "
                f"({ratio:.0%}; limit: {dash.limits.label}){freeable}",
            )
        )
    orphans = [p for p in snapshot.processes if p.state == State.ORPHAN]
    if orphans:
        findings.append(
            Finding(
                Severity.WARNING,
                "orphans",
                "processes",
                f"{len(orphans)} orphaned Hermes worker(s) (pids {_pids(orphans)}): "
                "run `hermes-top reap`",
            )
        )
    stale = [p for p in snapshot.processes if p.state == State.STALE]
    if stale:
        findings.append(
            Finding(
                Severity.INFO,
                "stale",
                "processes",
                f"{len(stale)} stale worker(s) under a live host (pids {_pids(stale)}): "
                "see `hermes-top list`; `hermes-top reap --include-stale` reaps them",
            )
        )
    zombies = [p for p in snapshot.processes if p.state == State.ZOMBIE]
    if zombies:
        findings.append(
            Finding(
                Severity.INFO,
                "zombies",
                "processes",
                f"{len(zombies)} zombie(s) (pids {_pids(zombies)}): only their parent can "
                "reap them; `hermes-top restart` restarts the dashboard",
            )
        )
    return findings


def _pids(procs: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(str(p.pid) for p in procs[:limit])
    return shown + (", ..." if len(procs) > limit else "")


# --- leftover active-session files ----------------------------------------------------


def is_tui_cmdline(cmdline: Sequence[str]) -> bool:
    """A node process running the Hermes tui (``.../tui_dist/entry.js`` or ``ui-tui/dist``)."""
    if not cmdline or not os.path.basename(cmdline[0]).startswith("node"):
        return False
    return any(arg.endswith("entry.js") for arg in cmdline[1:])


def live_tui_references() -> TuiReferences:
    """Active-session files named in the environment of every live tui we can read."""
    names: set[str] = set()
    unreadable = 0
    me = os.getuid()
    for proc in psutil.process_iter(["cmdline", "uids"]):
        cmdline = proc.info.get("cmdline") or []
        if not is_tui_cmdline(cmdline):
            continue
        try:
            value = proc.environ().get(ACTIVE_FILE_ENV)
        except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
            uids = proc.info.get("uids")
            if uids is not None and uids.real == me:
                unreadable += 1
            continue
        except psutil.NoSuchProcess:
            continue
        if value:
            names.add(os.path.basename(value))
    return TuiReferences(frozenset(names), unreadable)


def _pty_file_findings(
    temp_dir: pathlib.Path, references: ReferenceProvider | None, now: float
) -> list[Finding]:
    try:
        candidates = sorted(temp_dir.glob(PTY_FILE_GLOB))
    except OSError:
        return []
    if not candidates:
        return []
    refs = (references or live_tui_references)()
    me = os.getuid()
    leftover: list[pathlib.Path] = []
    removable: list[pathlib.Path] = []
    for path in candidates:
        # Compared by name: $TMPDIR may be spelled through a symlink (/var vs /private/var).
        if path.name in refs.names:
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        if st.st_uid != me:
            continue
        leftover.append(path)
        if now - st.st_mtime > PTY_FILE_MIN_AGE_S:
            removable.append(path)
    if not leftover:
        return []
    if refs.unreadable:
        removable = []
    note = (
        f"{len(removable)} older than an hour"
        if not refs.unreadable
        else f"{refs.unreadable} live tui(s) have an unreadable environment, so none is removed"
    )
    return [
        Finding(
            Severity.INFO,
            "pty-files",
            str(temp_dir),
            f"{len(leftover)} leftover {PTY_FILE_GLOB} file(s) that no live tui refers to ({note})",
            fix=f"delete the {len(removable)} older than an hour" if removable else None,
            files=tuple(removable),
        )
    ]


# --- fixes ----------------------------------------------------------------------------


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
        if finding.code in ("plist-no-limits", "plist-low-limits") and finding.path:
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
        f"NumberOfFiles {_limit(edit.before.soft)}/{_limit(edit.before.hard)} → "
        f"{edit.after.soft}/{edit.after.hard}"
    )
    if not edit.changed:
        return FixResult(finding.code, str(edit.path), False, "already fixed", finding=finding)
    if reload:
        ran = manager.reload(edit.path, finding.name or edit.path.stem)
        return FixResult(
            finding.code,
            str(edit.path),
            True,
            message + "; agent reloaded",
            backup=edit.backup,
            ran_commands=tuple(ran),
            finding=finding,
        )
    return FixResult(
        finding.code,
        str(edit.path),
        True,
        message + "; reload the agent for it to apply (or rerun with --yes)",
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
    for path in finding.files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return FixResult(
        finding.code,
        finding.subject,
        removed > 0,
        f"removed {removed} leftover active-session file(s)",
        finding=finding,
    )
