"""Signalling: safety rules, single signals, and the bulk reap.

Bulk reap sends SIGTERM to every target at once, waits up to ``grace`` for
all of them together, re-verifies, SIGKILLs the survivors and waits again, so
wall time is O(grace) whatever the count. Every signal is journalled before
the result is looked at.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hermes_top.core.handles import IdentityChanged, ProcessHandle, wait_for_exit
from hermes_top.core.journal import Journal
from hermes_top.core.model import (
    ActionResult,
    Outcome,
    ProcessInfo,
    ReapReport,
    Role,
    State,
)
from hermes_top.core.pins import PinLookup, PinRegistry
from hermes_top.core.platform import Platform

#: How long to wait for SIGKILLed processes to go (they normally take < 10 ms).
KILL_WAIT_S = 0.9
#: How long `send_signal` waits to report whether a signalled process ended.
SIGNAL_WAIT_S = 0.5


@dataclass(frozen=True)
class SafetyPolicy:
    """Who may be signalled. Built once per action from the live process table."""

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
            raw = platform.list_one(pid)
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


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _one_per_pid(targets: Sequence[ProcessInfo]) -> list[ProcessInfo]:
    """Each PID once (the first identity given for it), in the given order."""
    first: dict[int, ProcessInfo] = {}
    for info in targets:
        first.setdefault(info.pid, info)
    return list(first.values())


class _Target:
    """One target during an action: its info, pinned handle and result so far."""

    def __init__(self, info: ProcessInfo) -> None:
        self.info = info
        self.handle: ProcessHandle | None = None
        self.outcome: Outcome | None = None
        self.detail = ""

    def finish(self, outcome: Outcome, detail: str) -> None:
        self.outcome, self.detail = outcome, detail

    def result(self) -> ActionResult:
        assert self.outcome is not None
        return ActionResult(
            self.info.pid, self.info.role, self.info.state, self.outcome, self.detail
        )


class Signaller:
    """Pins targets, applies the safety policy, sends and journals signals."""

    def __init__(
        self,
        platform: Platform,
        journal: Journal,
        policy: SafetyPolicy,
        clock: Callable[[], float] = time.monotonic,
        pins: PinRegistry | None = None,
    ) -> None:
        self.platform = platform
        self.journal = journal
        self.policy = policy
        self.clock = clock
        self.pins = pins

    # -- steps -------------------------------------------------------------

    def _pin(self, targets: Sequence[ProcessInfo]) -> list[_Target]:
        """Refuse what must not be touched; open and verify a handle for the rest."""
        pinned: list[_Target] = []
        for info in _one_per_pid(targets):
            t = _Target(info)
            pinned.append(t)
            refusal = self.policy.refusal(info)
            if refusal is not None:
                t.finish(*refusal)
                continue
            pidfd: int | None = None
            if info.identity.pin and self.pins is not None:
                try:
                    found, pidfd = self.pins.take(info.identity)
                except OSError as err:  # EMFILE: no fd left to pin it with
                    t.finish(Outcome.SKIPPED, self._cannot_pin(err))
                    continue
                if found is PinLookup.REUSED:
                    t.finish(
                        Outcome.CHANGED,
                        f"PID {info.pid} now belongs to another process (seen since the scan): "
                        "not signalled",
                    )
                    continue
                if found in (PinLookup.EXITED, PinLookup.UNKNOWN):
                    # UNKNOWN: a later scan dropped the pin because the process
                    # exited. Never re-pin by bare PID: that reopens the reuse window.
                    self._finish_exited(t)
                    continue
            try:
                t.handle = self.platform.open_handle(info.identity, pidfd)
            except ProcessLookupError:
                t.finish(Outcome.GONE, "already exited")
                continue
            except PermissionError:
                t.finish(Outcome.DENIED, self._denied(info))
                continue
            except OSError as err:
                t.finish(Outcome.SKIPPED, self._cannot_pin(err))
                continue
            mismatch = t.handle.verify()
            if mismatch == "gone":
                t.finish(Outcome.GONE, "already exited")
            elif mismatch is not None:
                t.finish(Outcome.CHANGED, f"{mismatch}: not signalled")
        return pinned

    def _finish_exited(self, t: _Target) -> None:
        """The pinned process exited; say so, and whether its PID is someone else's now."""
        now = self.platform.list_one(t.info.pid)
        if now is None or now.create_time == t.info.create_time:
            # Gone, or still our process as a zombie its parent has not collected.
            t.finish(Outcome.GONE, "already exited")
        else:
            t.finish(
                Outcome.CHANGED,
                f"PID {t.info.pid} was reused by a new process after ours exited: not signalled",
            )

    @staticmethod
    def _cannot_pin(err: OSError) -> str:
        return (
            f"cannot pin the process ({err.strerror or err}); not signalled — "
            "raise `ulimit -n` and retry"
        )

    def _denied(self, info: ProcessInfo) -> str:
        return (
            f"permission denied for PID {info.pid} (owned by {info.username}); "
            "run hermes-top as that user or with sudo"
        )

    def _send(self, t: _Target, sig: int) -> bool:
        """Send one signal through the pinned handle; journal it. True if delivered."""
        assert t.handle is not None
        stopped = sig == signal.SIGTERM and t.handle.status() in ("T", "t")
        result = "sent"
        try:
            t.handle.send(sig)
        except ProcessLookupError:
            result = "gone"
        except PermissionError:
            result = "denied"
        except IdentityChanged as err:
            result = "changed"
            t.finish(Outcome.CHANGED, f"{err}: not signalled")
        except OSError as err:
            result = errno.errorcode.get(err.errno or 0, str(err))
        self._journal(t.info, sig, result)
        if result == "sent" and stopped:
            # A stopped process cannot act on SIGTERM until it is continued.
            try:
                t.handle.send(signal.SIGCONT)
                self._journal(t.info, signal.SIGCONT, "sent")
            except (OSError, IdentityChanged):
                pass
        if result == "gone":
            t.finish(Outcome.GONE, "exited before the signal")
        elif result == "denied":
            t.finish(Outcome.DENIED, self._denied(t.info))
        elif result not in ("sent", "changed"):
            t.finish(Outcome.SURVIVED, f"{_signame(sig)} failed: {result}")
        return result == "sent"

    def _journal(self, info: ProcessInfo, sig: int, result: str) -> None:
        self.journal.write(
            {
                "event": "signal",
                "pid": info.pid,
                "create_time": info.create_time,
                "uid": info.uid,
                "role": info.role.value,
                "state": info.state.value,
                "argv": list(info.identity.cmdline),
                "signal": _signame(sig),
                "result": result,
            }
        )

    def _close(self, pinned: list[_Target]) -> None:
        for t in pinned:
            if t.handle is not None:
                t.handle.close()
        self.journal.close()

    def _record_outcomes(self, pinned: list[_Target], action: str) -> None:
        for t in pinned:
            if t.outcome is None:
                continue
            self.journal.write(
                {
                    "event": "outcome",
                    "action": action,
                    "pid": t.info.pid,
                    "create_time": t.info.create_time,
                    "role": t.info.role.value,
                    "outcome": t.outcome.value,
                    "detail": t.detail,
                }
            )

    # -- actions -----------------------------------------------------------

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> tuple[ActionResult, ...]:
        """One signal to each target, then a short wait to say whether it ended."""
        self.journal.open()  # no journal, no signal
        pinned = self._pin(targets)
        try:
            sent = [t for t in pinned if t.outcome is None and self._send(t, sig)]
            live = [t.handle for t in sent if t.handle is not None]
            exited = wait_for_exit(live, SIGNAL_WAIT_S, self.clock)
            ended = Outcome.KILLED if sig == signal.SIGKILL else Outcome.TERMINATED
            for t in sent:
                if t.outcome is not None:
                    continue
                if t.info.pid in exited:
                    t.finish(ended, f"exited after {_signame(sig)}")
                else:
                    status = t.handle.status() if t.handle else None
                    t.finish(
                        Outcome.SIGNALLED,
                        f"{_signame(sig)} delivered; still running (state {status})",
                    )
            self._record_outcomes(pinned, _signame(sig))
            return tuple(t.result() for t in pinned)
        finally:
            self._close(pinned)

    def reap(
        self, targets: Sequence[ProcessInfo], grace_s: float, *, dry_run: bool = False
    ) -> ReapReport:
        start = self.clock()
        if dry_run:
            results = []
            for info in _one_per_pid(targets):
                refusal = self.policy.refusal(info)
                outcome, detail = refusal or (Outcome.PLANNED, "would send SIGTERM, then SIGKILL")
                results.append(ActionResult(info.pid, info.role, info.state, outcome, detail))
            return ReapReport(True, grace_s, self.clock() - start, tuple(results))
        self.journal.open()
        pinned = self._pin(targets)
        try:
            termed = [t for t in pinned if t.outcome is None and self._send(t, signal.SIGTERM)]
            handles = [t.handle for t in termed if t.handle is not None]
            exited = wait_for_exit(handles, grace_s, self.clock)
            survivors: list[_Target] = []
            for t in termed:
                if t.outcome is not None:
                    continue
                if t.info.pid in exited:
                    t.finish(Outcome.TERMINATED, "exited after SIGTERM")
                else:
                    survivors.append(t)
            killed = [t for t in survivors if self._kill(t)]
            exited = wait_for_exit(
                [t.handle for t in killed if t.handle is not None], KILL_WAIT_S, self.clock
            )
            for t in killed:
                if t.outcome is not None:
                    continue
                if t.info.pid in exited:
                    t.finish(Outcome.KILLED, f"ignored SIGTERM for {grace_s:g} s; SIGKILLed")
                else:
                    status = t.handle.status() if t.handle else None
                    t.finish(
                        Outcome.SURVIVED,
                        f"still alive after SIGKILL (state {status}; "
                        "D means stuck in the kernel, usually on I/O)",
                    )
            self._record_outcomes(pinned, "reap")
            return ReapReport(
                False, grace_s, self.clock() - start, tuple(t.result() for t in pinned)
            )
        finally:
            self._close(pinned)

    def _kill(self, t: _Target) -> bool:
        """Re-verify, then SIGKILL through the same pinned handle."""
        assert t.handle is not None
        mismatch = t.handle.verify()
        if mismatch == "gone":
            t.finish(Outcome.TERMINATED, "exited after SIGTERM")
            return False
        if mismatch is not None:
            t.finish(Outcome.CHANGED, f"{mismatch}: SIGKILL not sent")
            return False
        return self._send(t, signal.SIGKILL)
