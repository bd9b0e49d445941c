"""Where the service files live and what the dashboard agent is called.

Defaults come from the environment at call time (HOME, XDG_CONFIG_HOME, the temp
dir), so tests and unusual set-ups redirect everything by setting variables or by
passing a :class:`ServiceSettings` built by hand. An optional TOML file overrides
the defaults: ``$HERMES_TOP_CONFIG``, else ``$XDG_CONFIG_HOME/hermes-top/config.toml``::

    [service]
    manager = "launchd"                  # or "systemd"; default: by platform
    label = "ai.hermes.dashboard"        # launchd label of the dashboard agent
    unit = "hermes-dashboard.service"    # systemd user unit of the dashboard
    launch_agents_dir = "~/Library/LaunchAgents"
    systemd_user_dir = "~/.config/systemd/user"
    temp_dir = "/tmp"

    [limits]
    soft = 8192
    hard = 16384
"""

from __future__ import annotations

import os
import pathlib
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hermes_top.core.errors import HermesTopError, UsageError
from hermes_top.core.safe_files import UnsafePath, read_file, why, writable_by_others

MANAGERS = ("launchd", "systemd")
DEFAULT_LABEL = "ai.hermes.dashboard"
DEFAULT_UNIT = "hermes-dashboard.service"
#: What the upstream report suggests for the dashboard agent.
DEFAULT_SOFT_LIMIT = 8192
DEFAULT_HARD_LIMIT = 16384

#: Largest NOFILE limit we accept or write (RLIMIT_NOFILE is an int on every kernel
#: we know; Linux caps it at fs.nr_open, 2^30 at most).
MAX_NOFILE = 2**31 - 1
#: Longest unit name systemd accepts (UNIT_NAME_MAX) — a label gets the same bound.
MAX_NAME = 255
#: What systemd's unit_name_is_valid() allows; the name must not start with "-"
#: (systemctl would take it for an option) or "." (a hidden file, "..").
_UNIT_RE = re.compile(r"[A-Za-z0-9:_\\@][A-Za-z0-9:_.\\@-]*")
UNIT_SUFFIXES = (
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".path",
    ".mount",
    ".automount",
    ".swap",
    ".slice",
    ".scope",
    ".device",
)
#: Reverse-DNS-ish: launchctl has no "--", so nothing may start with "-" (or ".").
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

_KNOWN_KEYS: Mapping[str, frozenset[str]] = {
    "service": frozenset(
        {"manager", "label", "unit", "launch_agents_dir", "systemd_user_dir", "temp_dir"}
    ),
    "limits": frozenset({"soft", "hard"}),
}


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the service code needs to know about this machine."""

    manager: str
    label: str
    unit: str
    launch_agents_dir: pathlib.Path
    systemd_user_dir: pathlib.Path
    temp_dir: pathlib.Path
    soft_limit: int = DEFAULT_SOFT_LIMIT
    hard_limit: int = DEFAULT_HARD_LIMIT
    uid: int = -1

    @property
    def domain(self) -> str:
        """The launchd domain of this user's GUI session."""
        return f"gui/{self.uid}"

    def with_overrides(
        self,
        *,
        manager: str | None = None,
        label: str | None = None,
        unit: str | None = None,
        soft_limit: int | None = None,
        hard_limit: int | None = None,
    ) -> ServiceSettings:
        """The settings with command-line values applied (None keeps the current one)."""
        new = replace(
            self,
            manager=check_manager(manager) if manager else self.manager,
            label=check_label(label) if label else self.label,
            unit=normalize_unit(unit) if unit else self.unit,
            soft_limit=self.soft_limit if soft_limit is None else soft_limit,
            hard_limit=self.hard_limit if hard_limit is None else hard_limit,
        )
        check_limits(new.soft_limit, new.hard_limit)
        return new


def platform_manager(platform: str | None = None) -> str:
    """launchd on macOS, systemd (user units) everywhere else."""
    return "launchd" if (platform or sys.platform) == "darwin" else "systemd"


def check_manager(manager: str) -> str:
    if manager not in MANAGERS:
        raise UsageError(f"unknown service manager {manager!r} (choose launchd or systemd)")
    return manager


def is_label(label: object) -> bool:
    """A launchd label we will put into ``gui/<uid>/<label>`` (a slash would
    target another domain)."""
    return (
        isinstance(label, str) and len(label) <= MAX_NAME and _LABEL_RE.fullmatch(label) is not None
    )


def check_label(label: str) -> str:
    if not is_label(label):
        raise UsageError(
            f"invalid launchd label {_short(label)!r}: letters, digits, '.', '_' and '-', "
            f"not starting with '-' or '.', at most {MAX_NAME} characters"
        )
    return label


def is_unit(unit: object) -> bool:
    """A complete systemd unit name (with its type suffix) we will pass to systemctl."""
    return (
        isinstance(unit, str)
        and len(unit) <= MAX_NAME
        and _UNIT_RE.fullmatch(unit) is not None
        and unit.endswith(UNIT_SUFFIXES)
    )


def normalize_unit(unit: str) -> str:
    """``hermes-dashboard`` → ``hermes-dashboard.service`` (as systemctl itself does
    for a name without a unit type); UsageError for anything systemd would not take."""
    full = unit if not isinstance(unit, str) or unit.endswith(UNIT_SUFFIXES) else f"{unit}.service"
    if not is_unit(full):
        raise UsageError(
            f"invalid systemd unit name {_short(unit)!r}: letters, digits and ':_.@-\\', "
            f"not starting with '-' or '.', at most {MAX_NAME} characters"
        )
    return full


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def check_nofile(value: int, what: str) -> int:
    """A NOFILE limit we may accept: an integer from 1 to MAX_NOFILE."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_NOFILE:
        shown = str(value) if len(str(value)) <= 30 else f"{str(value)[:30]}..."
        raise UsageError(f"{what} must be from 1 to {MAX_NOFILE} (got {shown})")
    return value


def check_limits(soft: int, hard: int) -> None:
    check_nofile(soft, "the soft FD limit")
    check_nofile(hard, "the hard FD limit")
    if soft > hard:
        raise UsageError(f"soft FD limit {soft} is above the hard limit {hard}")


def config_path(env: Mapping[str, str] | None = None) -> pathlib.Path:
    env = os.environ if env is None else env
    if env.get("HERMES_TOP_CONFIG"):
        return pathlib.Path(env["HERMES_TOP_CONFIG"]).expanduser()
    return _xdg_config_home(env) / "hermes-top" / "config.toml"


def load_settings(
    env: Mapping[str, str] | None = None, *, platform: str | None = None
) -> ServiceSettings:
    """Defaults for this user, overridden by the config file if there is one."""
    env = os.environ if env is None else env
    home = _home(env)
    settings = ServiceSettings(
        manager=platform_manager(platform),
        label=DEFAULT_LABEL,
        unit=DEFAULT_UNIT,
        launch_agents_dir=home / "Library" / "LaunchAgents",
        systemd_user_dir=_xdg_config_home(env) / "systemd" / "user",
        temp_dir=_temp_dir(env),
        uid=os.getuid(),
    )
    path = config_path(env)
    explicit = bool(env.get("HERMES_TOP_CONFIG"))
    data = _read_toml(path)
    if data is None:
        if explicit:
            raise HermesTopError(f"config file {path} (from HERMES_TOP_CONFIG) does not exist")
        return settings
    return _apply_config(settings, path, data)


def _read_toml(path: pathlib.Path) -> dict[str, Any] | None:
    """The parsed config; None if there is none. Bounded, regular files only."""
    try:
        raw, st = read_file(path)
    except FileNotFoundError:
        return None
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot read config file {path}: {why(err, path)}") from err
    # It decides which files a root run edits: as sudo and sshd do, it must be
    # ours or root's and not writable by others.
    euid = os.geteuid()
    if st.st_uid not in (0, euid) or writable_by_others(st):
        raise HermesTopError(
            f"cannot use config file {path}: it is owned by uid {st.st_uid} with mode "
            f"{stat.S_IMODE(st.st_mode):04o}; it must be yours (uid {euid}) or root's "
            "and not writable by others"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HermesTopError(
            f"cannot parse config file {path}: not UTF-8 text (byte {err.start})"
        ) from err
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise HermesTopError(f"cannot parse config file {path}: {err}") from err


def _apply_config(
    settings: ServiceSettings, path: pathlib.Path, data: dict[str, Any]
) -> ServiceSettings:
    # Unknown keys are errors: a typo would otherwise silently keep a default.
    for section, values in data.items():
        if section not in _KNOWN_KEYS or not isinstance(values, dict):
            raise HermesTopError(f"config file {path}: unknown section [{section}]")
        for key in values:
            if key not in _KNOWN_KEYS[section]:
                raise HermesTopError(f"config file {path}: unknown key {section}.{key}")
    service: dict[str, Any] = data.get("service", {})
    limits: dict[str, Any] = data.get("limits", {})

    def text(key: str) -> str | None:
        value = service.get(key)
        if value is not None and not isinstance(value, str):
            raise HermesTopError(f"config file {path}: service.{key} must be a string")
        # TOML escapes allow "\u0000": a NUL (or a newline) is never part of a name or path.
        if value is not None and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise HermesTopError(
                f"config file {path}: service.{key} must not contain control characters"
            )
        return value

    def number(key: str) -> int | None:
        value = limits.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise HermesTopError(f"config file {path}: limits.{key} must be an integer")
        return value

    def directory(key: str, default: pathlib.Path) -> pathlib.Path:
        value = text(key)
        return pathlib.Path(value).expanduser() if value else default

    try:
        new = settings.with_overrides(
            manager=text("manager"),
            label=text("label"),
            unit=text("unit"),
            soft_limit=number("soft"),
            hard_limit=number("hard"),
        )
    except UsageError as err:
        raise HermesTopError(f"config file {path}: {err}") from err
    return replace(
        new,
        launch_agents_dir=directory("launch_agents_dir", new.launch_agents_dir),
        systemd_user_dir=directory("systemd_user_dir", new.systemd_user_dir),
        temp_dir=directory("temp_dir", new.temp_dir),
    )


def _home(env: Mapping[str, str]) -> pathlib.Path:
    return pathlib.Path(env["HOME"]) if env.get("HOME") else pathlib.Path.home()


def _temp_dir(env: Mapping[str, str]) -> pathlib.Path:
    # TMPDIR first, as Python's tempfile and node's os.tmpdir() both do; gettempdir()
    # alone would keep the value cached from the first call in this process.
    value = env.get("TMPDIR")
    if value and os.path.isdir(value):
        return pathlib.Path(value)
    return pathlib.Path(tempfile.gettempdir())


def _xdg_config_home(env: Mapping[str, str]) -> pathlib.Path:
    value = env.get("XDG_CONFIG_HOME")
    # The XDG spec says a relative value is invalid and must be ignored.
    if value and os.path.isabs(value):
        return pathlib.Path(value)
    return _home(env) / ".config"
