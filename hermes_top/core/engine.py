"""``Core``: the object the CLI and the TUI both talk to (implements CoreAPI)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hermes_top.core.api import ReadOnlyError
from hermes_top.core.model import (
    ActionResult,
    FdBreakdown,
    ProcessInfo,
    ReapPlan,
    ReapReport,
    ServiceOutcome,
    Snapshot,
    State,
)
from hermes_top.core.pins import PinRegistry
from hermes_top.core.platform import Platform, current_platform
from hermes_top.core.scan import ScanCache, build_snapshot

if TYPE_CHECKING:
    # Signalling code is imported when first used: `hermes-top list` never needs it.
    from hermes_top.core.journal import Journal
    from hermes_top.core.reap import SafetyPolicy, Signaller

#: How many file targets the FD breakdown lists.
TOP_TARGETS = 8


def classify_fd_target(target: str) -> str:
    """pipe / socket / tty / file / other, from a readlink target."""
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("socket:"):
        return "socket"
    if target.startswith(("/dev/pts/", "/dev/tty", "/dev/ptmx")):
        return "tty"
    if target.startswith("/"):
        return "file"
    return "other"


class Core:
    def __init__(
        self,
        *,
        readonly: bool = False,
        allow_other_users: bool = False,
        scope: Callable[[ProcessInfo], bool] | None = None,
        platform: Platform | None = None,
        journal: Journal | None = None,
        clock: Callable[[], float] = time.time,
        service_manager: str | None = None,
        service_name: str | None = None,
        restart: Callable[[], ServiceOutcome] | None = None,
        pin: bool = True,
    ) -> None:
        self.readonly = readonly
        self.allow_other_users = allow_other_users
        self.scope = scope
        self.platform = platform or current_platform()
        self._journal = journal
        self.clock = clock
        self.service_manager = service_manager
        self.service_name = service_name
        #: Replaces the launchd/systemd restart (the demo has no real agent).
        self._restart = restart
        # pin=False: a read-only listing needs no pidfds (signals then fall back
        # to pinning at signal time, verified by create time, uid and argv).
        self._cache = ScanCache(pins=PinRegistry(self.platform.open_pidfd) if pin else None)

    def close(self) -> None:
        """Release the pidfds pinned by scans."""
        if self._cache.pins is not None:
            self._cache.pins.close()

    # -- reading -------------------------------------------------------------

    def scan(self) -> Snapshot:
        return build_snapshot(self.platform, self._cache, now=self.clock, scope=self.scope)

    def fd_breakdown(self, pid: int) -> FdBreakdown:
        try:
            targets, source = self.platform.fd_targets(pid)
        except PermissionError:
            return FdBreakdown(pid, None, {}, (), "", f"access denied to the FDs of PID {pid}")
        except Exception as err:  # psutil.NoSuchProcess, FileNotFoundError ...
            return FdBreakdown(pid, None, {}, (), "", f"cannot list FDs of PID {pid}: {err}")
        kinds = Counter(classify_fd_target(t) for t in targets.values())
        files = Counter(t for t in targets.values() if classify_fd_target(t) == "file")
        total, _ = self.platform.num_fds(pid)
        return FdBreakdown(
            pid=pid,
            total=total if total is not None else len(targets),
            counts=dict(kinds),
            top_targets=tuple(files.most_common(TOP_TARGETS)),
            source=source,
        )

    def plan_reap(
        self, snapshot: Snapshot, *, include_stale: bool = False, min_age_s: float = 0.0
    ) -> ReapPlan:
        wanted = {State.ORPHAN, State.STALE} if include_stale else {State.ORPHAN}
        policy = self._policy()
        targets: list[ProcessInfo] = []
        excluded: list[tuple[ProcessInfo, str]] = []
        for proc in snapshot.processes:
            if proc.state not in wanted:
                if proc.state is State.ZOMBIE:
                    excluded.append((proc, f"zombie: only its parent {proc.ppid} can reap it"))
                elif proc.state is State.STALE:
                    excluded.append((proc, "stale (include stale workers to reap it)"))
                continue
            if proc.age_s < min_age_s:
                excluded.append((proc, f"younger than {min_age_s:g} s"))
                continue
            refusal = policy.refusal(proc)
            if refusal is not None:
                excluded.append((proc, refusal[1]))
                continue
            targets.append(proc)
        return ReapPlan(tuple(targets), tuple(excluded))

    # -- acting ----------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            from hermes_top.core.journal import Journal

            self._journal = Journal()
        return self._journal

    def _policy(self) -> SafetyPolicy:
        from hermes_top.core.reap import SafetyPolicy

        return SafetyPolicy.current(
            self.platform, allow_other_users=self.allow_other_users, in_scope=self.scope
        )

    def _signaller(self) -> Signaller:
        from hermes_top.core.reap import Signaller

        return Signaller(
            self.platform, self.journal.for_action(), self._policy(), pins=self._cache.pins
        )

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> tuple[ActionResult, ...]:
        if self.readonly:
            raise ReadOnlyError("send signals")
        return self._signaller().send_signal(targets, sig)

    def reap(
        self, targets: Sequence[ProcessInfo], *, grace_s: float = 3.0, dry_run: bool = False
    ) -> ReapReport:
        if self.readonly and not dry_run:
            raise ReadOnlyError("reap processes")
        return self._signaller().reap(targets, grace_s, dry_run=dry_run)

    def restart_dashboard(self) -> ServiceOutcome:
        if self.readonly:
            raise ReadOnlyError("restart the dashboard")
        if self._restart is not None:
            return self._restart()
        from hermes_top.core.services import restart_dashboard_service

        return restart_dashboard_service(self.service_manager, self.service_name)
