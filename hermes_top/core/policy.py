"""Who may be signalled: the one safety policy, for the CLI, the TUI and the fake core."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hermes_top.core.errors import HermesTopError
from hermes_top.core.model import (
    ActionReport,
    ActionResult,
    Confidence,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Role,
    Snapshot,
    State,
)
from hermes_top.core.platform import Platform
from hermes_top.core.procfs import ProcUnreadable


@dataclass(frozen=True)
class SafetyPolicy:
    """Built once per action from the live process table."""

    my_pid: int
    my_uid: int
    my_ancestors: frozenset[int]
    allow_other_users: bool = False
    in_scope: Callable[[ProcessInfo], bool] | None = None

    @classmethod
    def current(
        cls,
        platform: Platform,
        *,
        allow_other_users: bool = False,
        in_scope: Callable[[ProcessInfo], bool] | None = None,
    ) -> SafetyPolicy:
        ancestors: set[int] = set()
        pid = os.getppid()
        while pid > 1 and pid not in ancestors:
            ancestors.add(pid)
            try:
                raw = platform.list_one(pid)
            except ProcUnreadable as err:
                raise HermesTopError(
                    f"cannot read hermes-top's own ancestors ({err.strerror}); "
                    "nothing was signalled"
                ) from err
            if raw is None:
                break
            pid = raw.ppid
        return cls(
            my_pid=os.getpid(),
            my_uid=os.geteuid(),
            my_ancestors=frozenset(ancestors),
            allow_other_users=allow_other_users,
            in_scope=in_scope,
        )

    def refusal(self, target: ProcessInfo) -> tuple[Outcome, str] | None:
        """Why this target must not be signalled, or None if it may be."""
        pid = target.pid
        if pid <= 1:
            return Outcome.SKIPPED, f"refusing to signal PID {pid}"
        if pid == self.my_pid:
            return Outcome.SKIPPED, "refusing to signal hermes-top itself"
        if pid in self.my_ancestors:
            return Outcome.SKIPPED, f"refusing to signal PID {pid}: it is an ancestor of hermes-top"
        if target.state is State.ZOMBIE:
            return Outcome.ZOMBIE, (
                f"zombie: cannot be killed; its parent {target.ppid} must reap it "
                "(restart the dashboard)"
            )
        if target.role is Role.UNKNOWN:
            return Outcome.SKIPPED, "not a recognised Hermes process"
        if target.uid != self.my_uid and not self.allow_other_users:
            return Outcome.SKIPPED, (
                f"owned by {target.username} (uid {target.uid}); pass --all-users to include it"
            )
        if self.in_scope is not None and not self.in_scope(target):
            return Outcome.SKIPPED, "outside this view's scope"
        return None


def one_per_pid(targets: Sequence[ProcessInfo]) -> list[ProcessInfo]:
    """Each PID once (the first identity given for it), in the given order."""
    first: dict[int, ProcessInfo] = {}
    for info in targets:
        first.setdefault(info.pid, info)
    return list(first.values())


def dry_run(policy: SafetyPolicy, targets: Sequence[ProcessInfo], grace_s: float) -> ActionReport:
    """What a reap would do to each target: nothing is sent, pinned or written."""
    results = []
    for info in one_per_pid(targets):
        outcome, detail = policy.refusal(info) or (
            Outcome.PLANNED,
            "would send SIGTERM, then SIGKILL",
        )
        results.append(ActionResult(info.pid, info.role, info.state, outcome, detail))
    return ActionReport(True, grace_s, 0.0, tuple(results))


def plan_reap(
    snapshot: Snapshot,
    policy: SafetyPolicy,
    *,
    include_stale: bool = False,
    min_age_s: float = 0.0,
) -> ReapPlan:
    """The one reap planner: orphans and abandoned workers proven with high
    confidence (stale workers too if asked), older than ``min_age_s``, that the
    policy allows; every other leaked process with why it is left out."""
    wanted = {State.ORPHAN, State.ABANDONED} | ({State.STALE} if include_stale else set())
    targets: list[ProcessInfo] = []
    excluded: list[tuple[ProcessInfo, str]] = []
    for proc in snapshot.processes:
        if proc.state not in wanted:
            if proc.state is State.ZOMBIE:
                excluded.append((proc, f"zombie: only its parent {proc.ppid} can reap it"))
            elif proc.state is State.STALE:
                excluded.append((proc, "stale (include stale workers to reap it)"))
            continue
        if proc.confidence is not Confidence.HIGH:
            excluded.append((proc, "low confidence: see its evidence, reap it by --pid"))
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


def with_subtrees(snapshot: Snapshot, targets: Sequence[ProcessInfo]) -> list[ProcessInfo]:
    """``targets`` and everything shown below each of them (a worker's MCP servers
    and tools go with it), each process once, parents first."""
    children: dict[int, list[ProcessInfo]] = {}
    for proc in snapshot.processes:
        children.setdefault(proc.ppid, []).append(proc)
    out: dict[int, ProcessInfo] = {}
    stack = list(reversed(targets))
    while stack:
        proc = stack.pop()
        if proc.pid in out:
            continue
        out[proc.pid] = proc
        # A child older than its parent only reused a dead parent's PID.
        kids = [k for k in children.get(proc.pid, ()) if k.create_time >= proc.create_time]
        stack.extend(reversed(kids))
    return list(out.values())
