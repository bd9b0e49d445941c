"""systemd user units (Linux): the dashboard and gateway units in ~/.config/systemd/user.

Unit files are read directly (they are plain text and need no daemon), while
state comes from ``systemctl --user`` on $PATH, so tests run against a stub.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import FdLimits
from hermes_top.core.safe_files import UnsafePath, open_dir, read_file, why
from hermes_top.service import runner
from hermes_top.service.agent import (
    AgentRef,
    AgentStatus,
    parse_nofile,
    parse_pid,
    tool_path,
    tool_text,
)
from hermes_top.service.config import MAX_NOFILE, ServiceSettings, is_unit
from hermes_top.service.files import atomic_write, write_backup

DASHBOARD_GLOB = "hermes-dashboard*.service"
GATEWAY_GLOB = "hermes-gateway*.service"
DROPIN_NAME = "limits.conf"
#: What ``status`` asks systemd for (LoadState tells "not loaded" from "stopped").
SHOW_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "MainPID",
    "ExecMainStatus",
    "LimitNOFILE",
    "LimitNOFILESoft",
    "FragmentPath",
)


@dataclass(frozen=True)
class UnitNofile:
    """``LimitNOFILE=`` as the unit files set it. None in soft/hard means infinity."""

    soft: int | None
    hard: int | None
    #: The file whose line wins (the last one systemd reads).
    source: pathlib.Path
    raw: str


@dataclass(frozen=True)
class DropInEdit:
    path: pathlib.Path
    changed: bool
    backup: pathlib.Path | None


def parse_limit_nofile(value: str) -> tuple[int | None, int | None]:
    """``8192:16384`` → (8192, 16384); ``8192`` → (8192, 8192); ``infinity`` → None."""
    parts = value.strip().split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"invalid LimitNOFILE value {value!r}")
    parsed = [_limit(p) for p in parts]
    return (parsed[0], parsed[-1])


def _limit(text: str) -> int | None:
    text = text.strip()
    if text == "infinity":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_NOFILE)):
        raise ValueError(f"invalid LimitNOFILE value {text[:40]!r}")
    value = int(text)
    if not 1 <= value <= MAX_NOFILE:
        raise ValueError(f"LimitNOFILE value {value} is out of range (1 to {MAX_NOFILE})")
    return value


def unit_files(user_dir: pathlib.Path, unit: str) -> list[pathlib.Path]:
    """The unit file and its drop-ins in the order systemd applies them."""
    if not is_unit(unit):
        return []  # a name systemctl would take for an option, or a path
    files: list[pathlib.Path] = []
    main = user_dir / unit
    if main.is_file():
        files.append(main)
    dropins = user_dir / f"{unit}.d"
    if dropins.is_dir():
        files.extend(sorted(p for p in dropins.glob("*.conf") if p.is_file()))
    return files


def configured_nofile(files: Sequence[pathlib.Path]) -> UnitNofile | None:
    """The LimitNOFILE= that wins across ``files`` (later wins; empty resets)."""
    found: UnitNofile | None = None
    for path in files:
        try:
            text = read_file(path)[0].decode(errors="replace")
        except (OSError, UnsafePath) as err:
            raise HermesTopError(f"cannot read unit file {path}: {why(err, path)}") from err
        section = ""
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1]
                continue
            key, sep, value = stripped.partition("=")
            if section != "Service" or not sep or key.strip() != "LimitNOFILE":
                continue
            value = value.strip()
            if not value:
                found = None
                continue
            try:
                soft, hard = parse_limit_nofile(value)
            except ValueError as err:
                raise HermesTopError(f"unit file {path}: {err}") from err
            found = UnitNofile(soft, hard, path, value)
    return found


def _dropin_text(existing: str | None, soft: int, hard: int) -> str:
    """``existing`` with its [Service] LimitNOFILE= set, every other line kept."""
    line = f"LimitNOFILE={soft}:{hard}"
    if not existing:
        return f"# Written by hermes-top doctor --fix: FD headroom.\n[Service]\n{line}\n"
    out: list[str] = []
    section = ""
    done = False
    for raw in existing.splitlines():
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if section == "Service" and not done:
                out.append(line)
                done = True
            section = stripped[1:-1]
        elif section == "Service" and stripped.partition("=")[0].strip() == "LimitNOFILE":
            if not done:
                out.append(line)
                done = True
            continue
        out.append(raw)
    if not done:
        if section != "Service":
            out.append("[Service]")
        out.append(line)
    return "\n".join(out) + "\n"


def write_limits_dropin(
    user_dir: pathlib.Path, unit: str, soft: int, hard: int, *, now: dt.datetime | None = None
) -> DropInEdit:
    """Write ``<unit>.d/limits.conf`` with ``LimitNOFILE=soft:hard`` (backup if it existed).

    An existing file keeps its owner, group and mode; a new ``<unit>.d`` (0755)
    or ``limits.conf`` (0644) belongs to the owner of the directory it goes in.
    """
    if not is_unit(unit):
        raise HermesTopError(f"invalid systemd unit name {unit!r}: nothing was written")
    dropins = user_dir / f"{unit}.d"
    path = dropins / DROPIN_NAME
    try:
        d = open_dir(dropins, create_mode=0o755)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot create {dropins}: {why(err, dropins)}") from err
    with d:
        existing: bytes | None = None
        like = d.lstat(DROPIN_NAME)
        if like is not None:
            try:
                existing, like = d.read(DROPIN_NAME)
            except (OSError, UnsafePath) as err:
                raise HermesTopError(f"cannot read {path}: {why(err, path)}") from err
        old_text = existing.decode(errors="replace") if existing is not None else None
        new_text = _dropin_text(old_text, soft, hard)
        if old_text == new_text:
            return DropInEdit(path, changed=False, backup=None)
        backup = None
        if existing is not None and like is not None:
            backup = write_backup(d, DROPIN_NAME, existing, like, now)
        here = d.stat()
        atomic_write(d, DROPIN_NAME, new_text.encode(), like=like, owner=(here.st_uid, here.st_gid))
    return DropInEdit(path, changed=True, backup=backup)


def parse_show(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


class SystemdManager:
    name = "systemd"

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings

    def describe(self, service: str) -> str:
        return f"systemd user unit {service}"

    def known_agents(self) -> list[AgentRef]:
        directory = self.settings.systemd_user_dir
        main = directory / self.settings.unit
        refs = [AgentRef("dashboard", self.settings.unit, main if main.is_file() else None)]
        seen = {self.settings.unit}
        for kind, pattern in (("dashboard", DASHBOARD_GLOB), ("gateway", GATEWAY_GLOB)):
            if not directory.is_dir():
                break
            for path in sorted(directory.glob(pattern)):
                if path.is_file() and is_unit(path.name) and path.name not in seen:
                    seen.add(path.name)
                    refs.append(AgentRef(kind, path.name, path))
        return refs

    # Every unit name goes after "--", so even one that slipped past is_unit could
    # not be read as an option; names are checked too (normalize_unit, is_unit).

    def show_command(self, unit: str) -> list[str]:
        return ["systemctl", "--user", "show", "-p", ",".join(SHOW_PROPERTIES), "--", unit]

    def show(self, unit: str) -> dict[str, str]:
        _check_unit(unit)
        return parse_show(runner.run(self.show_command(unit)).stdout)

    def status(self, ref: AgentRef) -> AgentStatus:
        fields = self.show(ref.name)
        loaded = fields.get("LoadState", "") not in ("", "not-found")
        file = tool_path(fields.get("FragmentPath")) or ref.file
        hard_text, soft_text = fields.get("LimitNOFILE"), fields.get("LimitNOFILESoft")
        limits = FdLimits(
            parse_nofile(soft_text),
            parse_nofile(hard_text),
            "systemd",
            # The manager's setting, not read from the process itself.
            inferred=True,
            detail=(
                f"systemctl --user show: LimitNOFILESoft={tool_text(soft_text, 30)} "
                f"LimitNOFILE={tool_text(hard_text, 30)}"
            ),
        )
        return AgentStatus(
            self.name,
            ref.kind,
            ref.name,
            loaded=loaded,
            state=tool_text(fields.get("ActiveState")),
            pid=parse_pid(fields.get("MainPID")),
            last_exit=tool_text(fields.get("ExecMainStatus")),
            limits=limits,
            file=file,
        )

    def restart_command(self, service: str) -> Sequence[str]:
        return ["systemctl", "--user", "restart", "--", service]

    def restart(self, service: str) -> None:
        _check_unit(service)
        runner.run(self.restart_command(service))

    def daemon_reload(self) -> str:
        argv = ["systemctl", "--user", "daemon-reload"]
        runner.run(argv)
        return runner.format_command(argv)


def _check_unit(unit: str) -> None:
    if not is_unit(unit):
        raise HermesTopError(f"invalid systemd unit name {unit[:80]!r}: not passed to systemctl")
