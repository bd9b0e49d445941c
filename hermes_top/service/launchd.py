"""launchd (macOS): the dashboard and gateway agents in ~/Library/LaunchAgents.

Everything goes through ``launchctl`` on $PATH (runner.run), so the whole module
runs on Linux against a stub launchctl in tests.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable, Sequence

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import FdLimits
from hermes_top.service import runner
from hermes_top.service.agent import (
    AgentRef,
    AgentStatus,
    parse_nofile,
    parse_pid,
    tool_path,
    tool_text,
)
from hermes_top.service.config import ServiceSettings, is_label, load_settings
from hermes_top.service.plists import load_plist, nofile_limits

#: launchd's soft RLIMIT_NOFILE for agents whose plist sets none (hard: unlimited).
LAUNCHD_DEFAULT_SOFT = 256
DASHBOARD_GLOB = "ai.hermes.dashboard*.plist"
GATEWAY_GLOB = "ai.hermes.gateway*.plist"
#: launchctl's exit status for "Could not find service ... in domain".
NOT_FOUND_EXIT = 113


def dashboard_plists(launch_agents_dir: pathlib.Path | None = None) -> list[pathlib.Path]:
    """``ai.hermes.dashboard*.plist`` files in the LaunchAgents dir, sorted."""
    return _glob(launch_agents_dir, DASHBOARD_GLOB)


def gateway_plists(launch_agents_dir: pathlib.Path | None = None) -> list[pathlib.Path]:
    """``ai.hermes.gateway*.plist`` files in the LaunchAgents dir, sorted."""
    return _glob(launch_agents_dir, GATEWAY_GLOB)


def _glob(directory: pathlib.Path | None, pattern: str) -> list[pathlib.Path]:
    directory = directory or load_settings().launch_agents_dir
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(pattern) if p.is_file())


def read_plist_nofile(path: pathlib.Path) -> tuple[int | None, int | None] | None:
    """(soft, hard) ``NumberOfFiles`` from the plist; None if it sets neither.

    HermesTopError (naming the file) if the plist cannot be read or parsed.
    """
    plist = load_plist(path)
    limits = nofile_limits(plist.data, path)
    return (limits.soft, limits.hard) if limits.is_set else None


def parse_maxfiles(text: str) -> tuple[int, int | None] | None:
    """``maxfiles    256            unlimited`` → (256, None)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "maxfiles":
            soft, hard = (_limit_value(v) for v in fields[1:3])
            return (soft, hard) if soft is not None else None
    return None


def _limit_value(text: str) -> int | None:
    return parse_nofile(text)  # "unlimited" (or junk) → None


def launchctl_maxfiles() -> tuple[int, int | None] | None:
    """The launchd-wide default from ``launchctl limit maxfiles``; None if unavailable.

    ``unlimited`` is reported as None.
    """
    try:
        result = runner.run(["launchctl", "limit", "maxfiles"], check=False)
    except HermesTopError:
        return None
    return parse_maxfiles(result.stdout) if result.ok else None


def agent_fd_limits(
    plist: pathlib.Path | None,
    maxfiles: Callable[[], tuple[int, int | None] | None] | None = None,
) -> FdLimits:
    """The NOFILE limits a launchd agent runs with, and where the numbers came from.

    No macOS API reads another process's RLIMIT_NOFILE, so this is always inferred:
    the plist's NumberOfFiles if set, else ``launchctl limit maxfiles``, else
    launchd's default of 256 soft. ``maxfiles`` replaces the ``launchctl`` call
    (tests); it is only called when the plist does not set both numbers.
    """
    from_plist: tuple[int | None, int | None] | None = None
    problem = ""
    if plist is not None and plist.exists():
        try:
            from_plist = read_plist_nofile(plist)
        except HermesTopError as err:
            problem = f"; {err}"
    # launchctl is a subprocess: only ask it when the plist leaves a number unset.
    needs_fallback = from_plist is None or None in from_plist
    fallback = (maxfiles or launchctl_maxfiles)() if needs_fallback else None
    if from_plist is not None:
        soft, hard = from_plist
        # launchd applies the two dicts separately: a missing one keeps the default.
        fallback_soft, fallback_hard = fallback or (LAUNCHD_DEFAULT_SOFT, None)
        return FdLimits(
            soft if soft is not None else fallback_soft,
            hard if hard is not None else fallback_hard,
            "plist",
            inferred=True,
            detail=f"NumberOfFiles in {plist}",
        )
    if fallback is not None:
        return FdLimits(
            fallback[0],
            fallback[1],
            "launchctl",
            inferred=True,
            detail=f"launchctl limit maxfiles (plist sets no NumberOfFiles){problem}",
        )
    return FdLimits(
        LAUNCHD_DEFAULT_SOFT,
        None,
        "default",
        inferred=True,
        detail=f"launchd default (no plist limit, launchctl unavailable){problem}",
    )


def parse_print(text: str) -> dict[str, str]:
    """Top-level ``key = value`` lines of ``launchctl print gui/<uid>/<label>``.

    Nested blocks (arguments, environment, endpoints...) are skipped so that a
    ``pid = ...`` deeper down cannot be mistaken for the job's own.
    """
    fields: dict[str, str] = {}
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith("{"):
            depth += 1
        elif stripped == "}":
            depth -= 1
        elif depth == 1 and " = " in stripped:
            key, value = stripped.split(" = ", 1)
            fields.setdefault(key.strip(), value.strip())
    return fields


def plist_label(path: pathlib.Path, data: dict[str, object] | None = None) -> str | None:
    """The plist's ``Label`` (else its file name's stem) if it is a label we may
    pass to launchctl; None otherwise (a label such as ``-x`` or ``../y``)."""
    if data is None:
        try:
            data = load_plist(path).data
        except HermesTopError:
            data = {}
    label = data.get("Label")
    if isinstance(label, str) and label:
        return label if is_label(label) else None
    return path.stem if is_label(path.stem) else None


def _check_label(label: str) -> None:
    # launchctl has no "--" to end its options: every label it gets is checked instead
    # (it is always inside "gui/<uid>/<label>" too, and plist paths are absolute).
    if not is_label(label):
        raise HermesTopError(f"invalid launchd label {label[:80]!r}: not passed to launchctl")


class LaunchdManager:
    name = "launchd"

    def __init__(self, settings: ServiceSettings, *, settle_s: float = 5.0) -> None:
        self.settings = settings
        #: How long to wait for a booted-out job to disappear before bootstrapping.
        self.settle_s = settle_s

    def describe(self, service: str) -> str:
        return f"launchd agent {service}"

    def target(self, label: str) -> str:
        return f"{self.settings.domain}/{label}"

    def plist_for(self, label: str) -> pathlib.Path:
        return self.settings.launch_agents_dir / f"{label}.plist"

    def known_agents(self) -> list[AgentRef]:
        directory = self.settings.launch_agents_dir
        dashboard = self.plist_for(self.settings.label)
        refs = [
            AgentRef("dashboard", self.settings.label, dashboard if dashboard.exists() else None)
        ]
        seen = {self.settings.label}
        for kind, paths in (
            ("dashboard", dashboard_plists(directory)),
            ("gateway", gateway_plists(directory)),
        ):
            for path in paths:
                label = plist_label(path)
                if label is not None and label not in seen:
                    seen.add(label)
                    refs.append(AgentRef(kind, label, path))
        return refs

    def print_service(self, label: str) -> dict[str, str] | None:
        """Parsed ``launchctl print`` of the job; None if launchd does not know it."""
        _check_label(label)
        result = runner.run(["launchctl", "print", self.target(label)], check=False)
        if result.ok:
            return parse_print(result.stdout)
        if result.returncode == NOT_FOUND_EXIT or "could not find" in result.stderr.lower():
            return None
        raise runner.command_failed(result)

    def status(self, ref: AgentRef) -> AgentStatus:
        fields = self.print_service(ref.name)
        plist = (tool_path(fields.get("path")) if fields else None) or ref.file
        limits = agent_fd_limits(plist)
        if fields is None:
            return AgentStatus(
                self.name, ref.kind, ref.name, False, None, None, None, limits, plist
            )
        last_exit = fields.get("last exit code") or fields.get("last terminating signal")
        return AgentStatus(
            self.name,
            ref.kind,
            ref.name,
            loaded=True,
            state=tool_text(fields.get("state")),
            pid=parse_pid(fields.get("pid")),
            last_exit=tool_text(last_exit),
            limits=limits,
            file=plist,
        )

    def restart_command(self, service: str) -> Sequence[str]:
        return ["launchctl", "kickstart", "-k", self.target(service)]

    def restart(self, service: str) -> None:
        _check_label(service)
        runner.run(self.restart_command(service))

    def reload_commands(self, plist: pathlib.Path) -> list[list[str]]:
        """The exact commands that make launchd read a changed plist."""
        domain = self.settings.domain
        # Absolute, so a file named "-x.plist" is never an option to launchctl.
        path = os.path.abspath(plist)
        return [
            ["launchctl", "bootout", domain, path],
            ["launchctl", "bootstrap", domain, path],
        ]

    def reload(self, plist: pathlib.Path, label: str) -> list[str]:
        """Boot the job out (if loaded) and back in; returns the commands that ran."""
        bootout, bootstrap = self.reload_commands(plist)
        ran: list[str] = []
        if self.print_service(label) is not None:
            runner.run(bootout)
            ran.append(runner.format_command(bootout))
            self._wait_gone(label)
        runner.run(bootstrap)
        ran.append(runner.format_command(bootstrap))
        return ran

    def _wait_gone(self, label: str) -> None:
        # bootout returns before the job is fully torn down; bootstrapping too early
        # fails with "Bootstrap failed: 5: Input/output error".
        deadline = time.monotonic() + self.settle_s
        while self.print_service(label) is not None:
            if time.monotonic() >= deadline:
                raise HermesTopError(
                    f"launchd still lists {self.target(label)} {self.settle_s:g} s after bootout"
                )
            time.sleep(0.1)
