"""The destructive flows of the TUI: signal, reap and recover. Each asks first
(a dialog naming every target, and what is left out and why), runs in a thread
worker on the identities the dialog showed, and comes back as a notification
that says what happened to each target. --readonly is refused here at the key
and again in the core."""

from __future__ import annotations

import signal
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual import work

from hermes_top.core.errors import ReadOnlyError
from hermes_top.core.model import (
    HOST_ROLES,
    ActionReport,
    Outcome,
    ProcessInfo,
    ReapPlan,
    Role,
    Snapshot,
)
from hermes_top.tui.refresh import RefreshLoop
from hermes_top.tui.reports import describe_recover, describe_results, journal_note
from hermes_top.view.tree import ROLE_SHORT, descendants

if TYPE_CHECKING:
    from hermes_top.core.recovery import RecoverPlan, RecoverReport

# The dialogs (and core.recovery below them) are imported when first opened:
# the first paint does not wait for them (tests/test_import_hygiene.py).

__all__ = ["ActionFlows", "describe_results"]

#: How long a recovery waits for the restarted dashboard to answer.
RECOVER_WAIT_S = 30.0


def host_warnings(snapshot: Snapshot | None, targets: Iterable[ProcessInfo]) -> list[str]:
    """A line per target that other processes depend on (a dashboard, a gateway ...)."""
    out = []
    for p in targets:
        if p.role not in HOST_ROLES:
            continue
        below = len(descendants(snapshot, p.pid)) - 1 if snapshot is not None else 0
        line = f"{p.pid} is a {ROLE_SHORT[p.role]}: {below} process(es) below it lose their host"
        if p.role is Role.DASHBOARD:
            line += "; L recovers a dashboard (reap, restart, check) instead"
        out.append(line)
    return out


class ActionFlows(RefreshLoop):
    readonly: bool
    grace_s: float

    def selected_process(self) -> ProcessInfo | None:
        raise NotImplementedError

    def _refuse_readonly(self) -> bool:
        if self.readonly:
            self.notify(
                "read-only: nothing was sent (started with --readonly)",
                title="read-only",
                severity="warning",
            )
        return self.readonly

    def _signal_targets_or_say(self) -> list[ProcessInfo]:
        """The targets of a signal, or [] after saying why there are none."""
        if self._refuse_readonly():
            return []
        targets = self.signal_targets()
        if not targets:
            self.notify("Select a process, or tag some with Space / c", severity="warning")
        return targets

    def signal_targets(self) -> list[ProcessInfo]:
        """Tagged processes (by pid), else the one under the cursor."""
        if self.tagged:
            return [self.tagged[pid] for pid in sorted(self.tagged)]
        proc = self.selected_process()
        return [proc] if proc is not None else []

    # -- signals -------------------------------------------------------------------
    def action_sigterm(self) -> None:
        self.ask_signal(signal.SIGTERM)

    def action_sigkill(self) -> None:
        self.ask_signal(signal.SIGKILL)

    def action_signal_menu(self) -> None:
        targets = self._signal_targets_or_say()
        if not targets:
            return

        def picked(sig: signal.Signals | None) -> None:
            if sig is None:
                self._apply_pending()
            else:
                self.ask_signal(sig)

        from hermes_top.tui.screens.signal_menu import SignalMenu

        self.push_screen(SignalMenu(len(targets)), callback=picked)

    def ask_signal(self, sig: signal.Signals) -> None:
        """The confirmation for ``sig``: who will get it, and who will not and why
        (the core's own safety policy, asked by a dry run, before anything is sent)."""
        targets = self._signal_targets_or_say()
        if not targets:
            return
        try:
            preview = self.core.reap(targets, grace_s=self.grace_s, dry_run=True)
        except Exception as err:
            self._action_failed(sig.name, err)
            return
        refused = {r.pid: r.detail for r in preview.results if r.outcome is not Outcome.PLANNED}
        allowed = [t for t in targets if t.pid not in refused]
        excluded = [(t, refused[t.pid]) for t in targets if t.pid in refused]
        from hermes_top.tui.screens.confirm import ConfirmDialog

        dialog = ConfirmDialog(
            f"Send {sig.name}",
            sig.name,
            allowed,
            excluded=excluded,
            warnings=host_warnings(self.snapshot, allowed),
        )
        self.push_screen(dialog, callback=partial(self._signal_confirmed, sig))

    def _signal_confirmed(
        self, sig: signal.Signals, targets: tuple[ProcessInfo, ...] | None
    ) -> None:
        if targets:
            self._run_signal(targets, sig)
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_signal(self, targets: tuple[ProcessInfo, ...], sig: signal.Signals) -> None:
        try:
            report = self.core.send_signal(targets, int(sig))
        except Exception as err:
            self._from_thread(self._action_failed, sig.name, err)
            return
        self._from_thread(self._report, sig.name, report, targets)

    # -- plans ---------------------------------------------------------------------
    def fresh_snapshot(self) -> Snapshot:
        """A full scan with nothing reused (called in a thread: it costs a full pass).
        Every plan is made from one; the list then shows it too."""
        snapshot = self.core.scan(fresh=True)
        self._from_thread(self._offer_snapshot, snapshot)
        return snapshot

    def _offer_snapshot(self, snapshot: Snapshot) -> None:
        """Show ``snapshot`` now, or when the open dialog closes, unless a newer one
        is already there."""
        newest = self._pending if self._pending is not None else self.snapshot
        if newest is not None and newest.taken_at > snapshot.taken_at:
            return
        if self.frozen:
            self._pending = snapshot
        else:
            self.apply_snapshot(snapshot)

    # -- reap ----------------------------------------------------------------------
    def action_reap(self) -> None:
        """The reap dialog; it plans (in its own thread) from a fresh scan each time,
        never from the displayed, possibly incremental, snapshot."""
        if self._refuse_readonly() or self.snapshot is None:
            return

        def planner(include_stale: bool) -> ReapPlan:
            snapshot = self.fresh_snapshot()
            return self.core.plan_reap(snapshot, include_stale=include_stale)

        from hermes_top.tui.screens.confirm import ConfirmDialog

        dialog = ConfirmDialog(
            "Reap",
            "Reap",
            (),
            note=f"SIGTERM all, wait up to {self.grace_s:g} s, then SIGKILL the survivors.",
            planner=planner,
        )
        self.push_screen(dialog, callback=self._reap_confirmed)

    def _reap_confirmed(self, targets: tuple[ProcessInfo, ...] | None) -> None:
        if targets:
            self._run_reap(targets)
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_reap(self, targets: tuple[ProcessInfo, ...]) -> None:
        try:
            report = self.core.reap(targets, grace_s=self.grace_s)
        except Exception as err:
            self._from_thread(self._action_failed, "reap", err)
            return
        self._from_thread(self._report, "reap", report, targets)

    # -- recover -------------------------------------------------------------------
    def action_recover(self) -> None:
        """Plan (in a thread: finding how a dashboard restarts may ask launchd or
        systemd) for the selected row's dashboard, or every dashboard in trouble."""
        if self._refuse_readonly() or self.snapshot is None:
            return
        proc = self.selected_process()
        dashboard: int | None = None
        if proc is not None:
            dashboard = proc.pid if proc.role is Role.DASHBOARD else proc.dashboard_pid
        self._plan_recover(dashboard)

    @work(thread=True, group="action", exit_on_error=False)
    def _plan_recover(self, dashboard: int | None) -> None:
        try:
            plan = self.core.plan_recover(self.fresh_snapshot(), dashboard)
        except Exception as err:
            self._from_thread(self._action_failed, "recover", err)
            return
        self._from_thread(self._show_recover_plan, plan)

    def _show_recover_plan(self, plan: RecoverPlan) -> None:
        if not plan.steps and not plan.skipped:
            self.notify(
                "No dashboard is in trouble. Select one to recover it anyway.",
                title="recover",
                timeout=5,
            )
            return
        from hermes_top.tui.screens.recover import RecoverDialog

        dialog = RecoverDialog(plan, grace_s=self.grace_s)
        self.push_screen(dialog, callback=self._recover_confirmed)

    def _recover_confirmed(self, plan: RecoverPlan | None) -> None:
        if plan is not None and plan.steps:
            pids = ", ".join(str(s.dashboard.pid) for s in plan.steps)
            self.notify(f"recovering dashboard {pids} …", title="recover", timeout=5)
            self._run_recover(plan)
        self._apply_pending()

    @work(thread=True, group="action", exit_on_error=False)
    def _run_recover(self, plan: RecoverPlan) -> None:
        try:
            report = self.core.recover(plan, grace_s=self.grace_s, wait_s=RECOVER_WAIT_S)
        except Exception as err:
            self._from_thread(self._action_failed, "recover", err)
            return
        self._from_thread(self._recover_done, report)

    def _recover_done(self, report: RecoverReport) -> None:
        for outcome in report.outcomes:
            title, text, severity = describe_recover(outcome)
            timeout = 8.0 if severity == "information" else 15.0
            self.notify(text, title=title, severity=severity, markup=False, timeout=timeout)
        self.request_scan()

    # -- reporting -----------------------------------------------------------------
    def _action_failed(self, what: str, err: Exception) -> None:
        if isinstance(err, ReadOnlyError):
            self.notify(f"read-only: {err}", title=what, severity="warning", markup=False)
        else:
            self.notify(f"{what} failed: {err}", title=what, severity="error", markup=False)
        self.request_scan()

    def _report(self, what: str, report: ActionReport, targets: Iterable[ProcessInfo]) -> None:
        for t in targets:
            self.tagged.pop(t.pid, None)
        text, severity = describe_results(what, report.results)
        if note := journal_note(report):
            text += "\n" + note
            severity = "error"
        timeout = 5.0 if severity == "information" else 12.0
        self.notify(text, title=what, severity=severity, markup=False, timeout=timeout)
        self.request_scan()
