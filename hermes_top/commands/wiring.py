"""How the commands build the core: the one place where service control is
plugged into it (the core never imports hermes_top/service)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hermes_top.core.engine import Core
from hermes_top.core.model import ProcessInfo
from hermes_top.core.platform import Platform


def platform() -> Platform:
    """This machine's platform, with the macOS limit chain (plist, launchctl) plugged in."""
    from hermes_top.service.limits_macos import wired_platform

    return wired_platform()


def make_core(
    *,
    readonly: bool = False,
    allow_other_users: bool = False,
    scope: Callable[[ProcessInfo], bool] | None = None,
    pin: bool = True,
    act: bool = True,
    **extra: Any,
) -> Core:
    """A Core for a command. ``act=False`` (``list``, ``reap``: nothing there
    restarts anything) leaves out the supervisor. ``doctor``'s scan and
    ``demo``'s listing build a read-only Core directly (service/doctor.py,
    commands/demo.py)."""
    plat = platform()
    if act:
        from hermes_top.service.supervisor import HermesSupervisor

        extra.setdefault(
            "supervisor", HermesSupervisor(allow_other_users=allow_other_users, platform=plat)
        )
    return Core(
        readonly=readonly,
        allow_other_users=allow_other_users,
        scope=scope,
        platform=plat,
        pin=pin,
        **extra,
    )
