"""How the commands build the core: the one place where service control is
plugged into it (the core never imports hermes_top/service)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hermes_top.core.engine import Core
from hermes_top.core.model import ProcessInfo
from hermes_top.core.platform import Platform

if TYPE_CHECKING:
    from hermes_top.core.model import DashboardInfo
    from hermes_top.core.recovery import RestartMethod, RestartResult, Supervisor


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
        extra.setdefault("supervisor", LazySupervisor(allow_other_users, plat))
    return Core(
        readonly=readonly,
        allow_other_users=allow_other_users,
        scope=scope,
        platform=plat,
        pin=pin,
        **extra,
    )


class LazySupervisor:
    """The HermesSupervisor, built on first use: hermes_top/service is imported
    only when something is restarted, not before the TUI's first paint."""

    def __init__(self, allow_other_users: bool, plat: Platform) -> None:
        self._args = (allow_other_users, plat)
        self._real: Supervisor | None = None

    def _get(self) -> Supervisor:
        if self._real is None:
            from hermes_top.service.supervisor import HermesSupervisor

            allow, plat = self._args
            self._real = HermesSupervisor(allow_other_users=allow, platform=plat)
        return self._real

    def method(self, dashboard: ProcessInfo, info: DashboardInfo) -> RestartMethod:
        return self._get().method(dashboard, info)

    def restart(
        self, dashboard: ProcessInfo, method: RestartMethod, *, grace_s: float
    ) -> RestartResult:
        return self._get().restart(dashboard, method, grace_s=grace_s)
