"""``hermes-top doctor``: what is wrong with this machine's Hermes set-up, and fixes.

Checks (each a :class:`Finding` with a severity):

- the dashboard (and gateway) launchd plists: ``NumberOfFiles`` limits missing
  (the agent then runs at launchd's default soft limit of 256) or below target;
- the systemd user units: no ``LimitNOFILE`` in the unit or its drop-ins, or too low;
- a dashboard using over 80% of its FD limit, orphaned or zombie workers (from a
  process scan, injected as ``snapshot_provider``);
- ``hermes-pty-active-*.json`` files the dashboard leaves in the temp dir for every
  chat connection and never deletes, that no live tui refers to.

The fixes are service/doctor_fix.py. Nothing here prompts or prints.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import Role, Snapshot, State
from hermes_top.core.problems import Severity, problems
from hermes_top.service import plists
from hermes_top.service.config import ServiceSettings, is_unit
from hermes_top.service.launchd import (
    LAUNCHD_DEFAULT_SOFT,
    dashboard_plists,
    gateway_plists,
    plist_label,
)
from hermes_top.service.limits_macos import wired_platform
from hermes_top.service.systemd import (
    DASHBOARD_GLOB,
    GATEWAY_GLOB,
    configured_nofile,
    unit_files,
)

PTY_FILE_GLOB = "hermes-pty-active-*.json"
ACTIVE_FILE_ENV = "HERMES_TUI_ACTIVE_SESSION_FILE"
#: A younger file may belong to a tui that is starting up, or whose env we could not read.
PTY_FILE_MIN_AGE_S = 3600.0


@dataclass(frozen=True)
class Finding:
    severity: Severity
    #: Stable id for scripts: plist-no-limits, plist-low-limits, plist-soft-above-hard,
    #: plist-unreadable, plist-missing, unit-no-limit, unit-low-limit, unit-missing, dashboard-fds,
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
    #: None → one read-only scan by the core.
    snapshot_provider: SnapshotProvider | None = None
    #: None → the live tabs of that scan, their environment read with ``environ``.
    references: ReferenceProvider | None = None
    environ: Callable[[int], Mapping[str, str] | None] | None = None
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
    snapshot, skipped = _scan(request.snapshot_provider)
    findings += skipped + (snapshot_findings(snapshot) if snapshot is not None else [])
    references = request.references or (
        lambda: live_tui_references(snapshot, request.environ or wired_platform().environ)
    )
    findings += _pty_file_findings(settings.temp_dir, references, request.now)
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
    # None when the Label is not one we may pass to launchctl: fixed, not reloaded.
    name = plist_label(path, plist.data)
    shown = name or path.stem
    # A gateway holds fewer FDs than a dashboard: worth knowing, not an alarm.
    severity = Severity.WARNING if kind == "dashboard" else Severity.INFO
    fix = (
        f"set NumberOfFiles to {settings.soft_limit} soft / {settings.hard_limit} hard, "
        "then reload the agent"
    )
    if limits.soft is not None and limits.hard is not None and limits.soft > limits.hard:
        return [
            Finding(
                severity,
                "plist-soft-above-hard",
                str(path),
                f"{kind} agent {shown} NumberOfFiles is {limits.soft} soft / {limits.hard} "
                "hard: launchd cannot apply a soft limit above the hard one",
                fix=fix + f" (hard at least {limits.soft}, never below the soft limit)",
                path=path,
                name=name,
            )
        ]
    if not limits.is_set:
        return [
            Finding(
                severity,
                "plist-no-limits",
                str(path),
                f"{kind} agent {shown} sets no SoftResourceLimits/HardResourceLimits "
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
                f"{kind} agent {shown} NumberOfFiles is {limit_text(limits.soft)} soft / "
                f"{limit_text(limits.hard)} hard, below {settings.soft_limit} / "
                f"{settings.hard_limit}",
                fix=fix,
                path=path,
                name=name,
            )
        ]
    return []


def limit_text(value: int | None, unset: str = "unset") -> str:
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
            # A file named "-x.service" is no unit of ours to pass to systemctl.
            units += [
                (kind, p.name)
                for p in sorted(directory.glob(pattern))
                if p.is_file() and is_unit(p.name)
            ]
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


def default_snapshot_provider() -> Snapshot:
    """One read-only scan by the core, on this machine's wired platform."""
    from hermes_top.core.engine import Core
    from hermes_top.service.limits_macos import wired_platform

    snapshot: Snapshot = Core(pin=False, platform=wired_platform()).scan()
    return snapshot


def _scan(provider: SnapshotProvider | None) -> tuple[Snapshot | None, list[Finding]]:
    try:
        return (provider or default_snapshot_provider)(), []
    except (HermesTopError, OSError) as err:
        return None, [
            Finding(Severity.INFO, "scan-skipped", "processes", f"process scan failed: {err}")
        ]


def snapshot_findings(snapshot: Snapshot) -> list[Finding]:
    """What is wrong with the processes: core.problems' judgement, as findings."""
    return [
        Finding(
            p.severity,
            p.code,
            p.subject,
            f"{p.message}: run `{p.remedy}`" if p.remedy else p.message,
        )
        for p in problems(snapshot)
    ]


# --- leftover active-session files ----------------------------------------------------


def live_tui_references(
    snapshot: Snapshot | None, environ: Callable[[int], Mapping[str, str] | None]
) -> TuiReferences:
    """Active-session files named in the environment of the live tabs the scan
    found (the core's matcher, not a substring test)."""
    if snapshot is None:
        return TuiReferences(frozenset(), unreadable=1)  # no scan: nothing is provably unused
    names: set[str] = set()
    unreadable = 0
    me = os.getuid()
    for proc in snapshot.processes:
        if proc.role is not Role.TUI or proc.state is State.ZOMBIE:
            continue
        env = environ(proc.pid)
        if env is None:
            unreadable += proc.uid == me
            continue
        value = env.get(ACTIVE_FILE_ENV)
        if value:
            names.add(os.path.basename(value))
    return TuiReferences(frozenset(names), unreadable)


def _pty_file_findings(
    temp_dir: pathlib.Path, references: ReferenceProvider, now: float
) -> list[Finding]:
    try:
        candidates = sorted(temp_dir.glob(PTY_FILE_GLOB))
    except OSError:
        return []
    if not candidates:
        return []
    refs = references()
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
