"""Who runs a dashboard, found from the process itself, and its restart.

In this order: the desktop app that respawns its backend (``HERMES_DESKTOP=1``
or the app's argv; terminated, never relaunched by us); its systemd unit
(``/proc/PID/cgroup`` names it, and the unit's main PID must be the dashboard
or an ancestor: a dashboard started from an ssh session lives in that
session's scope, and restarting sshd is not recovering it); its launchd job
(``XPC_SERVICE_NAME`` where readable, else the job ``launchctl`` lists with its
PID or an ancestor's); or, for one started by hand, a relaunch of the same
command (service/relaunch.py).
"""

from __future__ import annotations

import os
import pwd
import re
import sys
from collections.abc import Callable, Mapping

from hermes_top.core.model import DashboardInfo, ProcessInfo
from hermes_top.core.platform import Platform, current_platform
from hermes_top.core.recovery import RestartKind, RestartMethod, RestartResult
from hermes_top.service import relaunch, runner
from hermes_top.service.agent import parse_pid
from hermes_top.service.config import is_label, is_unit
from hermes_top.service.launchd import parse_print

#: systemd's cgroup path of a unit: the last ``*.service`` component.
_SERVICE = re.compile(r"/([A-Za-z0-9:_.\\@-]+\.service)$")
#: ``user@1000.service`` is the user's manager itself, never the dashboard's unit.
_USER_MANAGER = re.compile(r"^user@\d+\.service$")
_LAUNCHCTL_LINE = re.compile(r"^\s*(\d+)\s+\S+\s+(\S+)\s*$")

Run = Callable[..., runner.CommandResult]


def read_cgroup(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return None


def unit_of(cgroup_text: str) -> tuple[str, bool] | None:
    """(unit, is a user unit) from /proc/PID/cgroup (cgroup v2 or the v1 systemd line)."""
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or parts[1] not in ("", "name=systemd"):
            continue
        m = _SERVICE.search(parts[2].strip())
        if m is None or _USER_MANAGER.match(m.group(1)) or not is_unit(m.group(1)):
            continue
        return m.group(1), "/user@" in parts[2]
    return None


class HermesSupervisor:
    """The Supervisor the CLI gives the core (see core/recovery.py)."""

    def __init__(
        self,
        *,
        allow_other_users: bool = False,
        system: str = sys.platform,
        cgroup: Callable[[int], str | None] = read_cgroup,
        run: Run = runner.run,
        my_uid: int | None = None,
        platform: Platform | None = None,
    ) -> None:
        self.allow_other_users = allow_other_users
        self.system = system
        self._cgroup = cgroup
        self._run = run
        self.my_uid = os.geteuid() if my_uid is None else my_uid
        self.platform = platform or current_platform()

    # -- finding -------------------------------------------------------------

    def method(self, dashboard: ProcessInfo, info: DashboardInfo) -> RestartMethod:
        if dashboard.uid != self.my_uid and not (self.allow_other_users and self.my_uid == 0):
            return RestartMethod(
                RestartKind.NONE,
                "",
                f"owned by {dashboard.username}: run as that user, or as root with --all-users",
                possible=False,
            )
        env = self.platform.environ(dashboard.pid) or {}
        if env.get("HERMES_DESKTOP") == "1" or _desktop_argv(dashboard):
            return self._desktop(dashboard)
        if self.system.startswith("linux"):
            found = self._systemd(dashboard)
            if found is not None:
                return found
        if self.system == "darwin":
            found = self._launchd(dashboard, env)
            if found is not None:
                return found
        return relaunch.plan(dashboard, info, self.platform)

    def _systemd(self, dashboard: ProcessInfo) -> RestartMethod | None:
        text = self._cgroup(dashboard.pid)
        unit = unit_of(text) if text else None
        if unit is None:
            return None
        name, user = unit
        base = self._systemctl(dashboard.uid, user)
        try:
            shown = self._run([*base, "show", "-p", "MainPID", "--value", "--", name], check=False)
        except Exception as err:  # HermesTopError: systemctl missing or hanging
            return RestartMethod(RestartKind.NONE, "", f"{name}: {err}", possible=False)
        main = shown.stdout.strip()
        if not (shown.ok and main.isdigit() and self._above(int(main), dashboard.pid)):
            return None  # its unit is something else (a terminal, sshd ...): started by hand
        command = [*base, "restart", "--", name]
        return RestartMethod(
            RestartKind.SYSTEMD,
            runner.format_command(command),
            f"{'user' if user else 'system'} unit {name} (main PID {main}, from its cgroup)",
            data={"argv": command},
        )

    def _systemctl(self, uid: int, user: bool) -> list[str]:
        if not user:
            return ["systemctl"]
        if uid == self.my_uid:
            return ["systemctl", "--user"]
        name = pwd.getpwuid(uid).pw_name
        return ["systemctl", "--user", f"--machine={name}@"]

    def _launchd(self, dashboard: ProcessInfo, env: Mapping[str, str]) -> RestartMethod | None:
        domain = f"gui/{dashboard.uid}"
        label = env.get("XPC_SERVICE_NAME")
        how = "XPC_SERVICE_NAME in its environment"
        if not label or label == "0" or not is_label(label):
            label, how = self._label_by_pid(domain, dashboard.pid), "launchctl print " + domain
        if label is None:
            return None
        try:
            printed = self._run(["launchctl", "print", f"{domain}/{label}"], check=False)
        except Exception as err:
            return RestartMethod(RestartKind.NONE, "", f"{label}: {err}", possible=False)
        # The job's own top-level "pid = N", never one nested in its environment block.
        pid = parse_pid(parse_print(printed.stdout).get("pid")) if printed.ok else None
        if pid is None or not self._above(pid, dashboard.pid):
            return None
        command = ["launchctl", "kickstart", "-k", f"{domain}/{label}"]
        return RestartMethod(
            RestartKind.LAUNCHD,
            runner.format_command(command),
            f"launchd job {label} (pid {pid}; found by {how})",
            data={"argv": command},
        )

    def _label_by_pid(self, domain: str, pid: int) -> str | None:
        try:
            printed = self._run(["launchctl", "print", domain], check=False)
        except Exception:
            return None
        if not printed.ok:
            return None
        chain = self._ancestry(pid)
        for line in printed.stdout.splitlines():
            m = _LAUNCHCTL_LINE.match(line)
            if m and int(m.group(1)) in chain and is_label(m.group(2)):
                return m.group(2)
        return None

    def _desktop(self, dashboard: ProcessInfo) -> RestartMethod:
        parent = self.platform.list_one(dashboard.ppid) if dashboard.ppid > 1 else None
        if parent is None or parent.create_time > dashboard.create_time:
            return RestartMethod(
                RestartKind.DESKTOP,
                f"terminate PID {dashboard.pid} (its desktop app is gone: nothing respawns it)",
                "desktop backend without its app",
                data={"respawns": False},
                stop_first=True,
            )
        return RestartMethod(
            RestartKind.DESKTOP,
            f"terminate PID {dashboard.pid} and wait for {parent.name} {parent.pid} to start "
            "a new backend",
            f"desktop backend of {parent.name} {parent.pid}",
            data={"respawns": True},
            stop_first=True,
        )

    def _ancestry(self, pid: int, limit: int = 64) -> set[int]:
        out = {pid}
        while len(out) < limit:
            raw = self.platform.list_one(pid)
            if raw is None or raw.ppid <= 0 or raw.ppid in out:
                break
            pid = raw.ppid
            out.add(pid)
        return out

    def _above(self, candidate: int, pid: int) -> bool:
        """``candidate`` is ``pid`` or one of its ancestors (never init)."""
        return candidate > 1 and candidate in self._ancestry(pid)

    # -- restarting ----------------------------------------------------------

    def restart(
        self, dashboard: ProcessInfo, method: RestartMethod, *, grace_s: float
    ) -> RestartResult:
        if method.kind in (RestartKind.SYSTEMD, RestartKind.LAUNCHD):
            try:
                done = self._run(method.data["argv"], check=False)
            except Exception as err:
                return RestartResult(False, str(err))
            if not done.ok:
                return RestartResult(False, f"{method.command}: {runner.first_line(done.stderr)}")
            return RestartResult(True, f"ran {method.command}")
        if method.kind is RestartKind.DESKTOP:
            # The core has terminated it; the app, if alive, starts the next one.
            return RestartResult(True, "terminated; waiting for the app's new backend")
        if method.kind is RestartKind.RELAUNCH:
            return relaunch.start(dashboard, method)
        return RestartResult(False, method.detail)


def _desktop_argv(dashboard: ProcessInfo) -> bool:
    """``hermes serve`` is only ever run by the desktop app (0.18+)."""
    words = [w for w in dashboard.identity.cmdline[1:] if not w.startswith("-")]
    return "serve" in words[:3]
