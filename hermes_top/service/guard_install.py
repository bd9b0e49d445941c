"""The guard as a per-user service: a launchd agent (macOS) or a systemd user
unit (Linux) that keeps ``hermes-top guard`` running.

- launchd: ``~/Library/LaunchAgents/ai.hermes-top.guard.plist`` (label
  ``ai.hermes-top.guard``: not ``ai.hermes.*``, so it never matches the
  dashboard's or gateway's ``ai.hermes.dashboard*`` / ``ai.hermes.gateway*``),
  KeepAlive, its own log ``~/Library/Logs/hermes-top/guard.log``; loaded with
  ``launchctl bootout``/``bootstrap gui/<uid>``.
- systemd: ``~/.config/systemd/user/hermes-top-guard.service``, Restart=always,
  logging to the journal; ``systemctl --user daemon-reload``, ``enable``,
  ``restart``.

Files are written as ``doctor --fix`` writes: through ``safe_files`` (the
directory held by fd, no link followed, O_EXCL temp file, atomic rename, owner
and mode of a replaced file kept, a new file belongs to the directory's owner),
with a timestamped backup of a file that is replaced or removed after someone
edited it. Commands go through ``runner`` (one clear error each).
"""

from __future__ import annotations

import os
import pathlib
import plistlib
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from hermes_top.core.errors import HermesTopError
from hermes_top.core.safe_files import Dir, UnsafePath, open_dir, why
from hermes_top.service import runner
from hermes_top.service.agent import parse_pid
from hermes_top.service.config import ServiceSettings
from hermes_top.service.files import atomic_write, write_backup
from hermes_top.service.launchd import LaunchdManager
from hermes_top.service.systemd import SystemdManager

GUARD_LABEL = "ai.hermes-top.guard"
GUARD_UNIT = "hermes-top-guard.service"
LOG_NAME = "guard.log"
#: PATH for the launchd agent (launchd's own default lacks /usr/sbin on some
#: releases): enough for launchctl and osascript.
LAUNCHD_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
#: launchd waits this long before starting a job that keeps exiting again.
THROTTLE_S = 30
#: A word systemd takes as it is in ExecStart= (anything else is quoted).
_SAFE_WORD = re.compile(r"[A-Za-z0-9_./:=@+,-]+")
HEADER = "# Written by `hermes-top guard install`; `hermes-top guard uninstall` removes it.\n"


@dataclass(frozen=True)
class GuardService:
    """The file that runs the guard, and how its manager knows it."""

    manager: str
    #: The launchd label or the systemd unit.
    name: str
    path: pathlib.Path
    content: bytes
    #: Where its output goes: a file (launchd) or None (the journal).
    log: pathlib.Path | None
    argv: tuple[str, ...]

    @property
    def log_hint(self) -> str:
        if self.log is not None:
            return str(self.log)
        return f"journalctl --user -u {self.name}"


def guard_service(settings: ServiceSettings, argv: Sequence[str]) -> GuardService:
    """What ``guard install`` writes for this user, running ``argv``."""
    argv = tuple(argv)
    check_argv(argv)
    if settings.manager == "launchd":
        path = settings.launch_agents_dir / f"{GUARD_LABEL}.plist"
        log = launchd_log_path(settings)
        return GuardService("launchd", GUARD_LABEL, path, plist_bytes(argv, log), log, argv)
    path = settings.systemd_user_dir / GUARD_UNIT
    return GuardService("systemd", GUARD_UNIT, path, unit_text(argv).encode(), None, argv)


def launchd_log_path(settings: ServiceSettings) -> pathlib.Path:
    """``~/Library/Logs/hermes-top/guard.log`` beside the LaunchAgents folder's Library."""
    return settings.launch_agents_dir.parent / "Logs" / "hermes-top" / LOG_NAME


def check_argv(argv: Sequence[str]) -> None:
    if not argv or not os.path.isabs(argv[0]):
        raise HermesTopError("the guard's command must start with an absolute path")
    for arg in argv:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in arg):
            raise HermesTopError(
                f"cannot put {arg[:80]!r} into a service file: it holds a control character"
            )


def plist_bytes(argv: Sequence[str], log: pathlib.Path) -> bytes:
    plist = {
        "Label": GUARD_LABEL,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": True,
        "ThrottleInterval": THROTTLE_S,
        "ProcessType": "Background",
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
        "EnvironmentVariables": {"PATH": LAUNCHD_PATH},
    }
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=False)


def systemd_quote(arg: str) -> str:
    """One ExecStart= word: as it is when plain, else double-quoted with systemd's
    escapes (``\\``, ``"``) and its specifier and variable signs doubled."""
    if _SAFE_WORD.fullmatch(arg):
        return arg
    inner = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{inner}"'


def unit_text(argv: Sequence[str]) -> str:
    command = " ".join(systemd_quote(a) for a in argv)
    return (
        HEADER
        + "[Unit]\n"
        + "Description=hermes-top guard: reaps leaked Hermes dashboard workers, warns before "
        + "a dashboard runs out of FDs\n"
        + "\n[Service]\n"
        + "Type=simple\n"
        + f"ExecStart={command}\n"
        + "Restart=always\n"
        + "RestartSec=10\n"
        + "\n[Install]\n"
        + "WantedBy=default.target\n"
    )


# -- install -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    path: pathlib.Path
    #: "created", "replaced", "unchanged", "removed", "absent".
    what: str
    backup: pathlib.Path | None = None


@dataclass(frozen=True)
class ServiceReport:
    file: FileChange
    ran: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def check_home_owner(settings: ServiceSettings) -> None:
    """A user service runs as the user whose folder it is in: refuse to put one
    into another user's home (sudo keeping HOME), where it would run as them."""
    folder = (
        settings.launch_agents_dir if settings.manager == "launchd" else settings.systemd_user_dir
    )
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    owner = probe.stat().st_uid
    euid = os.geteuid()
    if owner != euid:
        raise HermesTopError(
            f"{probe} belongs to uid {owner}, but you are uid {euid}: a user service runs as "
            "the user it belongs to; run `hermes-top guard install` as that user "
            "(nothing was written)"
        )


def write_service_file(service: GuardService) -> FileChange:
    """Create or replace the service file (backup first if it held something else)."""
    folder = service.path.parent
    try:
        d = open_dir(folder, create_mode=0o755)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot create {folder}: {why(err, folder)}") from err
    with d:
        name = service.path.name
        like = d.lstat(name)
        backup = None
        if like is not None:
            old, like = _read(d, name)
            if old == service.content:
                return FileChange(service.path, "unchanged")
            backup = write_backup(d, name, old, like)
        here = d.stat()
        atomic_write(d, name, service.content, like=like, owner=(here.st_uid, here.st_gid))
    return FileChange(service.path, "replaced" if like is not None else "created", backup)


def _read(d: Dir, name: str) -> tuple[bytes, os.stat_result]:
    try:
        return d.read(name)
    except (OSError, UnsafePath) as err:
        shown = d.show(name)
        raise HermesTopError(f"cannot read {shown}: {why(err, shown)}") from err


def make_log_dir(service: GuardService) -> None:
    """launchd opens the log but does not create its folder."""
    if service.log is None:
        return
    folder = service.log.parent
    try:
        open_dir(folder, create_mode=0o755).close()
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot create {folder}: {why(err, folder)}") from err


def activate_commands(service: GuardService, settings: ServiceSettings) -> list[list[str]]:
    """What install runs after writing the file (``--dry-run`` prints them)."""
    if service.manager == "launchd":
        return LaunchdManager(settings).reload_commands(service.path)
    unit = service.name
    return [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--", unit],
        ["systemctl", "--user", "restart", "--", unit],
    ]


def install(service: GuardService, settings: ServiceSettings) -> ServiceReport:
    check_home_owner(settings)
    make_log_dir(service)
    change = write_service_file(service)
    if service.manager == "launchd":
        manager = LaunchdManager(settings)
        if change.what == "unchanged" and manager.print_service(service.name) is not None:
            return ServiceReport(change, notes=("already installed and loaded",))
        return ServiceReport(change, tuple(manager.reload(service.path, service.name)))
    ran: list[str] = []
    for argv in activate_commands(service, settings):
        runner.run(argv)
        ran.append(runner.format_command(argv))
    return ServiceReport(change, tuple(ran))


# -- uninstall ---------------------------------------------------------------------------


def deactivate_commands(service: GuardService, settings: ServiceSettings) -> list[list[str]]:
    if service.manager == "launchd":
        return [LaunchdManager(settings).reload_commands(service.path)[0]]
    return [
        ["systemctl", "--user", "disable", "--now", "--", service.name],
        ["systemctl", "--user", "daemon-reload"],
    ]


def uninstall(service: GuardService, settings: ServiceSettings) -> ServiceReport:
    """Stop and unload the guard's service, then remove its file (a backup is
    kept if it is not what install wrote)."""
    ran: list[str] = []
    if service.manager == "launchd":
        manager = LaunchdManager(settings)
        if manager.print_service(service.name) is not None:
            argv = (
                deactivate_commands(service, settings)[0]
                if service.path.exists()
                else ["launchctl", "bootout", manager.target(service.name)]
            )
            runner.run(argv)
            ran.append(runner.format_command(argv))
        return ServiceReport(remove_service_file(service), tuple(ran))
    disable, reload = deactivate_commands(service, settings)
    if systemd_loaded(settings, service.name):
        runner.run(disable)
        ran.append(runner.format_command(disable))
    change = remove_service_file(service)
    if change.what == "removed":
        runner.run(reload)
        ran.append(runner.format_command(reload))
    return ServiceReport(change, tuple(ran))


def remove_service_file(service: GuardService) -> FileChange:
    folder = service.path.parent
    if not folder.exists():
        return FileChange(service.path, "absent")
    try:
        d = open_dir(folder)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot open {folder}: {why(err, folder)}") from err
    with d:
        name = service.path.name
        st = d.lstat(name)
        if st is None:
            return FileChange(service.path, "absent")
        if not stat.S_ISREG(st.st_mode):
            shown = d.show(name)
            raise HermesTopError(f"{shown} is not a regular file: not removed, remove it yourself")
        old, like = _read(d, name)
        backup = None if _ours(service, old) else write_backup(d, name, old, like)
        try:
            d.unlink(name)
        except OSError as err:
            raise HermesTopError(f"cannot remove {d.show(name)}: {err.strerror or err}") from err
        d.sync()
    return FileChange(service.path, "removed", backup)


def _ours(service: GuardService, data: bytes) -> bool:
    """Whether the file is one install wrote (whatever options it ran with)."""
    if service.manager == "launchd":
        try:
            plist = plistlib.loads(data)
        except Exception:  # plistlib raises many kinds on junk: then it is not ours
            return False
        if not isinstance(plist, dict) or plist.get("Label") != GUARD_LABEL:
            return False
        args = plist.get("ProgramArguments")
        if not isinstance(args, list) or service.log is None:
            return False
        regenerated: object = plistlib.loads(plist_bytes([str(a) for a in args], service.log))
        return regenerated == plist
    text = data.decode(errors="replace")
    argv = installed_argv_systemd(text)
    return argv is not None and unit_text(argv) == text


# -- status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardServiceStatus:
    installed: bool
    #: The command the installed file runs (None if unreadable or not installed).
    argv: tuple[str, ...] | None
    loaded: bool
    running: bool
    pid: int | None
    state: str | None
    detail: str = ""


def installed_argv_systemd(text: str) -> tuple[str, ...] | None:
    """ExecStart= of a unit install wrote, split back (only the quoting install writes)."""
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            return _split_exec(line[len("ExecStart=") :])
    return None


def _split_exec(text: str) -> tuple[str, ...] | None:
    words: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] != '"':
            end = text.find(" ", i)
            end = len(text) if end < 0 else end
            words.append(text[i:end])
            i = end
            continue
        i += 1
        word: list[str] = []
        while i < len(text) and text[i] != '"':
            escaped = text[i] == "\\" or text[i : i + 2] in ("%%", "$$")
            if escaped and i + 1 < len(text):
                i += 1
            word.append(text[i])
            i += 1
        if i >= len(text):
            return None  # an unterminated quote: not a line install wrote
        words.append("".join(word))
        i += 1
    return tuple(words)


def installed_argv(service: GuardService) -> tuple[str, ...] | None:
    try:
        data = service.path.read_bytes()
    except OSError:
        return None
    if service.manager == "launchd":
        try:
            plist = plistlib.loads(data)
        except Exception:
            return None
        args = plist.get("ProgramArguments") if isinstance(plist, dict) else None
        return tuple(str(a) for a in args) if isinstance(args, list) else None
    return installed_argv_systemd(data.decode(errors="replace"))


def systemd_loaded(settings: ServiceSettings, unit: str) -> bool:
    fields = SystemdManager(settings).show(unit)
    return fields.get("LoadState", "") not in ("", "not-found")


def status(service: GuardService, settings: ServiceSettings) -> GuardServiceStatus:
    """The file and what the manager says of it; a manager that cannot be asked
    (no launchctl, no user bus) leaves ``detail`` saying why."""
    installed = service.path.is_file()
    argv = installed_argv(service) if installed else None
    try:
        return _status(service, settings, installed, argv)
    except HermesTopError as err:
        return GuardServiceStatus(installed, argv, False, False, None, None, str(err))


def _status(
    service: GuardService,
    settings: ServiceSettings,
    installed: bool,
    argv: tuple[str, ...] | None,
) -> GuardServiceStatus:
    if service.manager == "launchd":
        fields = LaunchdManager(settings).print_service(service.name)
        if fields is None:
            return GuardServiceStatus(installed, argv, False, False, None, None)
        pid = parse_pid(fields.get("pid"))
        state = fields.get("state")
        return GuardServiceStatus(installed, argv, True, pid is not None, pid, state)
    fields = SystemdManager(settings).show(service.name)
    loaded = fields.get("LoadState", "") not in ("", "not-found")
    state = fields.get("ActiveState")
    pid = parse_pid(fields.get("MainPID"))
    return GuardServiceStatus(installed, argv, loaded, state == "active", pid, state)
