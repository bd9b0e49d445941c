"""Signalling: one routine for single signals and the bulk reap.

An action is a list of phases. Each phase sends one signal to every target
still running, then waits for all of them together; a single signal is one
phase, a reap is SIGTERM (wait up to the grace) then SIGKILL for the survivors.
Wall time is O(the waits), whatever the number of targets.

FDs are bounded: at most as many pidfds are held as this process may still
open; a target beyond that is released after its signal and pinned again
when it is next looked at, which is sound only for processes old enough (see
``pinned.FRESH_PIN_MIN_AGE_S``; the scan pins the youngest first). What
cannot be looked at is reported ``unknown``, never ``gone``.

Every signal is journalled. An action whose journal cannot be written does
not start; one whose journal fails half-way finishes and says how many
records were lost. One action runs at a time (``action_lock``), so every
outcome reported can be attributed to this action.
"""

from __future__ import annotations

import errno
import select
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hermes_top.core.action_lock import action_lock
from hermes_top.core.errors import HermesTopError
from hermes_top.core.journal import Journal
from hermes_top.core.model import ActionReport, ActionResult, Outcome, ProcessInfo
from hermes_top.core.pinned import (
    FRESH_PIN_MIN_AGE_S,
    Check,
    IdentityChanged,
    PinLookup,
    PinRegistry,
    ProcessHandle,
)
from hermes_top.core.platform import Platform
from hermes_top.core.policy import SafetyPolicy, one_per_pid
from hermes_top.core.procfs import ProcUnreadable

#: How long to wait for SIGKILLed processes to go (they normally take < 10 ms).
KILL_WAIT_S = 0.9
#: How long a single signal waits to report whether the process ended.
SIGNAL_WAIT_S = 0.5
#: FDs an action leaves free for /proc reads, the journal and the terminal.
ACTION_RESERVE_FDS = 16
#: Targets without a held pidfd are looked at this often while waiting.
PROBE_INTERVAL_S = 0.05
#: Signals whose default action ends a process: after them we wait to see it end.
ENDING_SIGNALS = frozenset(
    {signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
)


def signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@dataclass(frozen=True)
class _Phase:
    sig: int
    wait_s: float


class _Target:
    """One target during an action: its info, held handle and what we know."""

    def __init__(self, info: ProcessInfo) -> None:
        self.info = info
        self.handle: ProcessHandle | None = None
        self.outcome: Outcome | None = None
        self.detail = ""
        #: Signals delivered to it, in order.
        self.sent: list[int] = []
        #: The kernel said it exited (after one of our signals).
        self.exited = False
        #: Why we could not look at it the last time we tried.
        self.unknown: str | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None and not self.exited

    def finish(self, outcome: Outcome, detail: str) -> None:
        self.outcome, self.detail = outcome, detail

    def result(self) -> ActionResult:
        assert self.outcome is not None
        info = self.info
        return ActionResult(info.pid, info.role, info.state, self.outcome, self.detail)


class _Budget:
    """How many more pidfds this action may hold."""

    def __init__(self, free: int) -> None:
        self.free = free

    def take(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True


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

    # -- actions -----------------------------------------------------------

    def send_signal(self, targets: Sequence[ProcessInfo], sig: int) -> ActionReport:
        """One signal to each target; for signals that end a process, a short wait."""
        wait = SIGNAL_WAIT_S if sig in ENDING_SIGNALS else 0.0
        return self._run(targets, (_Phase(sig, wait),), signame(sig))

    def reap(self, targets: Sequence[ProcessInfo], grace_s: float) -> ActionReport:
        phases = (_Phase(signal.SIGTERM, grace_s), _Phase(signal.SIGKILL, KILL_WAIT_S))
        return self._run(targets, phases, "reap")

    # -- the routine -------------------------------------------------------

    def _run(
        self, infos: Sequence[ProcessInfo], phases: Sequence[_Phase], action: str
    ) -> ActionReport:
        start = self.clock()
        self.journal.open()  # raises: no journal, no signal
        targets = [_Target(info) for info in one_per_pid(infos)]
        try:
            with action_lock(self.journal.path.parent):
                begin = {"event": "action", "action": action, "pids": [t.info.pid for t in targets]}
                if not self._record(begin):
                    raise HermesTopError(
                        f"cannot write the signal journal {self.journal.path}: "
                        f"{self.journal.last_error}; nothing was signalled"
                    )
                for t in targets:
                    refusal = self.policy.refusal(t.info)
                    if refusal is not None:
                        t.finish(*refusal)
                budget = _Budget(self.platform.fd_headroom() - ACTION_RESERVE_FDS)
                for n, phase in enumerate(phases):
                    # A later phase is for the survivors of the earlier ones only.
                    due = [t for t in targets if t.open and (n == 0 or t.sent)]
                    for t in due:
                        self._deliver(t, phase.sig, budget)
                    if phase.wait_s > 0:
                        self._wait([t for t in due if t.open and t.sent], phase.wait_s, budget)
                for t in targets:
                    self._conclude(t, phases)
                    self._record(self._outcome_record(t, action))
        finally:
            for t in targets:
                self._release(t)
            self.journal.close()  # its fsync can fail too: counted in failed_writes
        lost = self.journal.failed_writes
        return ActionReport(
            False,
            phases[0].wait_s,
            self.clock() - start,
            tuple(t.result() for t in targets),
            journal_lost=lost,
            journal_error=self.journal.last_error if lost else None,
        )

    def _deliver(self, t: _Target, sig: int, budget: _Budget) -> None:
        handle = self._acquire(t)
        if handle is None:
            if t.open and not t.sent:
                t.finish(Outcome.SKIPPED, f"{t.unknown}; not signalled")
            return
        self._send(t, handle, sig)
        self._keep_or_close(t, handle, budget)

    def _acquire(self, t: _Target) -> ProcessHandle | None:
        """A handle proven to reach our process, or None: then it exited, is
        finished (changed, denied, too young) or ``t.unknown`` says why not."""
        if t.handle is not None:
            return t.handle
        ident = t.info.identity
        pidfd: int | None = None
        trusted = False
        if ident.pin and self.pins is not None:
            try:
                found, pidfd = self.pins.take(ident)
            except OSError as err:  # EMFILE: no fd left for the dup
                t.unknown = _cannot_pin(err)
                return None
            if found in (PinLookup.EXITED, PinLookup.REUSED):
                self._exited(t, reused=found is PinLookup.REUSED)
                return None
            trusted = found is PinLookup.OK
        try:
            handle = self.platform.open_handle(ident, pidfd, trusted)
        except ProcessLookupError:
            self._exited(t, reused=False)
            return None
        except PermissionError:
            t.finish(Outcome.DENIED, self._denied(t.info))
            return None
        except OSError as err:
            t.unknown = _cannot_pin(err)
            return None
        try:
            found_now, why = handle.check()
        except ProcUnreadable as err:
            handle.close()
            t.unknown = f"cannot verify it ({err.strerror or err})"
            return None
        if found_now is Check.SAME:
            if pidfd is None and handle.fileno() is not None and t.info.age_s < FRESH_PIN_MIN_AGE_S:
                # A new pidfd can disprove who it is, never prove it for a process
                # this young (a PID reuser in the same clock tick looks the same).
                handle.close()
                self._too_young(t)
                return None
            t.unknown = None
            return handle
        handle.close()
        if found_now is Check.CHANGED:
            t.finish(Outcome.CHANGED, f"{why}: not signalled")
        else:
            self._exited(t, reused=found_now is Check.REUSED)
        return None

    def _too_young(self, t: _Target) -> None:
        why = (
            f"started {t.info.age_s:.1f} s before the scan and could not be pinned then: "
            "a new pin cannot prove it is the same process"
        )
        if t.sent:
            t.unknown = why
        else:
            t.finish(Outcome.SKIPPED, f"{why}; not signalled (try again)")

    def _exited(self, t: _Target, *, reused: bool) -> None:
        if t.sent:
            t.exited = True  # after our signal: it ended
            return
        if not reused:
            # The pin says it exited; whether its PID went to someone else is only
            # worth saying (the signal is refused either way).
            try:
                now = self.platform.list_one(t.info.pid)
            except ProcUnreadable:
                now = None
            reused = now is not None and now.create_time != t.info.create_time
        if reused:
            t.finish(
                Outcome.CHANGED,
                f"PID {t.info.pid} now belongs to another process (ours exited): not signalled",
            )
        else:
            t.finish(Outcome.GONE, "already exited")

    def _send(self, t: _Target, handle: ProcessHandle, sig: int) -> None:
        stopped = False
        if sig == signal.SIGTERM:
            try:
                stopped = handle.status() in ("T", "t")
            except ProcUnreadable:
                stopped = True  # cannot tell: SIGCONT is harmless to a running worker
        result, changed = "sent", ""
        try:
            handle.send(sig)
        except ProcessLookupError:
            result = "gone"
        except PermissionError:
            result = "denied"
        except IdentityChanged as err:
            result, changed = "changed", str(err)
        except OSError as err:
            result = errno.errorcode.get(err.errno or 0, str(err))
        self._record(self._signal_record(t.info, sig, result))
        if result == "sent":
            t.sent.append(sig)
            if stopped:  # a stopped process cannot act on SIGTERM until continued
                try:
                    handle.send(signal.SIGCONT)
                    self._record(self._signal_record(t.info, signal.SIGCONT, "sent"))
                except (OSError, IdentityChanged):
                    pass
        elif result == "gone":
            self._exited(t, reused=False)
        elif result == "denied":
            t.finish(Outcome.DENIED, self._denied(t.info))
        elif result == "changed":
            t.finish(Outcome.CHANGED, f"{changed}: {signame(sig)} not sent")
        else:
            outcome = Outcome.SURVIVED if t.sent else Outcome.SKIPPED
            t.finish(outcome, f"{signame(sig)} failed: {result}")

    def _keep_or_close(self, t: _Target, handle: ProcessHandle, budget: _Budget) -> None:
        if t.handle is handle:
            if not t.open:
                self._release(t)
            return
        if t.open and (handle.fileno() is None or budget.take()):
            t.handle = handle
        else:
            handle.close()

    def _release(self, t: _Target) -> None:
        if t.handle is not None:
            t.handle.close()
            t.handle = None

    def _wait(self, waiting: list[_Target], timeout_s: float, budget: _Budget) -> None:
        """Until every target exited or the time is up; held pidfds block in poll(),
        the others are pinned again and looked at every PROBE_INTERVAL_S."""
        deadline = self.clock() + timeout_s
        pending = list(waiting)
        while True:
            for t in pending:
                if t.handle is not None:
                    if t.handle.has_exited():
                        t.exited = True
                        self._release(t)
                else:
                    handle = self._acquire(t)
                    if handle is not None:
                        if handle.has_exited():
                            t.exited = True
                            handle.close()
                        else:
                            self._keep_or_close(t, handle, budget)
            pending = [t for t in pending if t.open]
            remaining = deadline - self.clock()
            if not pending or remaining <= 0:
                return
            fds = [t.handle.fileno() for t in pending if t.handle is not None]
            pollable = [fd for fd in fds if fd is not None]
            if len(pollable) < len(pending):
                remaining = min(remaining, PROBE_INTERVAL_S)
            poller = select.poll()
            for fd in pollable:
                poller.register(fd, select.POLLIN)
            poller.poll(max(1, int(remaining * 1000)))

    def _conclude(self, t: _Target, phases: Sequence[_Phase]) -> None:
        if t.outcome is not None:
            return
        if not t.sent:
            t.finish(Outcome.SKIPPED, f"{t.unknown or 'could not be pinned'}; not signalled")
            return
        last = signame(t.sent[-1])
        if t.exited:
            if t.sent[-1] == signal.SIGKILL and len(phases) > 1:
                t.finish(Outcome.KILLED, f"ignored SIGTERM for {phases[0].wait_s:g} s; SIGKILLed")
            elif t.sent[-1] == signal.SIGKILL:
                t.finish(Outcome.KILLED, "exited after SIGKILL")
            else:
                t.finish(Outcome.TERMINATED, f"exited after {last}")
            return
        if t.unknown is not None:
            t.finish(
                Outcome.UNKNOWN, f"{last} delivered; cannot tell whether it ended: {t.unknown}"
            )
            return
        state = self._state(t)
        if t.sent[-1] == signal.SIGKILL:
            t.finish(
                Outcome.SURVIVED,
                f"still alive after SIGKILL (state {state}; D means stuck in the kernel, "
                "usually on I/O)",
            )
        else:
            t.finish(Outcome.SIGNALLED, f"{last} delivered; still running (state {state})")

    def _state(self, t: _Target) -> str:
        handle = t.handle
        try:
            return (handle.status() if handle is not None else None) or "?"
        except ProcUnreadable:
            return "?"

    # -- the journal -------------------------------------------------------

    def _record(self, record: dict[str, Any]) -> bool:
        return self.journal.write(record)  # never raises; the journal counts what it lost

    @staticmethod
    def _signal_record(info: ProcessInfo, sig: int, result: str) -> dict[str, Any]:
        return {
            "event": "signal",
            "pid": info.pid,
            "create_time": info.create_time,
            "uid": info.uid,
            "role": info.role.value,
            "state": info.state.value,
            "argv": list(info.identity.cmdline),
            "signal": signame(sig),
            "result": result,
        }

    @staticmethod
    def _outcome_record(t: _Target, action: str) -> dict[str, Any]:
        return {
            "event": "outcome",
            "action": action,
            "pid": t.info.pid,
            "create_time": t.info.create_time,
            "role": t.info.role.value,
            "outcome": t.outcome.value if t.outcome else None,
            "detail": t.detail,
        }

    @staticmethod
    def _denied(info: ProcessInfo) -> str:
        return (
            f"permission denied for PID {info.pid} (owned by {info.username}); "
            "run hermes-top as that user or with sudo"
        )


def _cannot_pin(err: OSError) -> str:
    return f"cannot pin the process ({err.strerror or err}): raise `ulimit -n` and retry"
