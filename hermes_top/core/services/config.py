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
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hermes_top.core.errors import HermesTopError, UsageError

MANAGERS = ("launchd", "systemd")
DEFAULT_LABEL = "ai.hermes.dashboard"
DEFAULT_UNIT = "hermes-dashboard.service"
#: What the upstream report suggests for the dashboard agent.
DEFAULT_SOFT_LIMIT = 8192
DEFAULT_HARD_LIMIT = 16384

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


def check_label(label: str) -> str:
    # A label goes into "gui/<uid>/<label>": a slash or blank would target something else.
    if not label or "/" in label or any(c.isspace() for c in label):
        raise UsageError(f"invalid launchd label {label!r}")
    return label


def normalize_unit(unit: str) -> str:
    """``hermes-dashboard`` → ``hermes-dashboard.service``; rejects paths and blanks."""
    if not unit or "/" in unit or any(c.isspace() for c in unit):
        raise UsageError(f"invalid systemd unit name {unit!r}")
    return unit if "." in unit else f"{unit}.service"


def check_limits(soft: int, hard: int) -> None:
    if soft < 1 or hard < 1:
        raise UsageError(f"FD limits must be positive (got soft {soft}, hard {hard})")
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
    if not path.exists():
        if explicit:
            raise HermesTopError(f"config file {path} (from HERMES_TOP_CONFIG) does not exist")
        return settings
    return _apply_config(settings, path, _read_toml(path))


def _read_toml(path: pathlib.Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise HermesTopError(f"cannot parse config file {path}: {err}") from err
    except OSError as err:
        raise HermesTopError(f"cannot read config file {path}: {err.strerror or err}") from err


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
