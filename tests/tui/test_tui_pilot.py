"""Drive the TUI's destructive keys over a FakeCore and check exactly what reached the core."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace

from textual.pilot import Pilot
from textual.widgets import Button
from tui_helpers import (
    drive,
    make_app,
    notes,
    screen_text,
    select_pid,
    settle,
)

from hermes_top.core.model import Identity, Snapshot
from hermes_top.testing import FakeCore, demo_core, demo_snapshot
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.screens.confirm import ConfirmDialog
from hermes_top.tui.screens.recover import RecoverDialog
from hermes_top.tui.screens.signal_menu import SignalMenu


def identities(snapshot: Snapshot, *pids: int) -> tuple[Identity, ...]:
    found = [snapshot.get(pid) for pid in pids]
    assert all(found)
    return tuple(p.identity for p in found if p is not None)


def signals_sent(core: FakeCore) -> list[int]:
    return [c.sig for c in core.signal_calls]


def test_tag_two_rows_then_T_sends_TERM_to_exactly_those() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3002)
        await pilot.press("space", "space")  # tags 3002, moves down, tags 3003
        assert set(app.tagged) == {3002, 3003}
        await pilot.press("T")
        assert isinstance(app.screen, ConfirmDialog)
        assert [p.pid for p in app.screen.targets] == [3002, 3003]
        assert app.screen.focused is not None and app.screen.focused.id == "cancel"
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)

    drive(app, scenario)
    assert len(core.signal_calls) == 1
    call = core.signal_calls[0]
    assert call.sig == signal.SIGTERM
    assert call.targets == identities(demo_snapshot(), 3002, 3003)
    assert "SIGTERM: 2 terminated" in notes(app)
    assert app.snapshot is not None and app.snapshot.get(3002) is None  # rescanned after


def test_K_on_another_users_process_says_why_before_asking() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3010)  # bob's worker: the product's safety policy refuses it
        await pilot.press("K")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.targets == ()
        assert dialog.query_one("#confirm", Button).disabled
        shown = screen_text(app)
        assert "owned by bob (uid 502)" in shown and "nothing to do" in shown
        await pilot.press("y")  # nothing to confirm
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        # A zombie: the same, with the policy's reason.
        select_pid(app, 4140)
        await pilot.press("T")
        assert isinstance(app.screen, ConfirmDialog) and app.screen.targets == ()
        assert "its parent 4100 must reap it" in screen_text(app)
        await pilot.press("n")

    drive(app, scenario)
    assert core.signal_calls == []


def test_a_dashboard_as_target_is_warned_about() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 4100)
        await pilot.press("T")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and [p.pid for p in dialog.targets] == [4100]
        assert "4100 is a dash: 12 process(es) below it lose their host" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario, size=(120, 36))
    assert signals_sent(core) == [signal.SIGTERM]


def test_signal_menu_sends_the_chosen_signal_through_the_same_dialog() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3003)
        await pilot.press("k")
        assert isinstance(app.screen, SignalMenu)
        await pilot.press("c")  # CONT
        assert isinstance(app.screen, ConfirmDialog)
        assert [p.pid for p in app.screen.targets] == [3003]
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("f9")
        assert isinstance(app.screen, SignalMenu)
        await pilot.press("down", "down", "down", "enter")  # TERM KILL INT [HUP]
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("k", "escape")  # cancelled: nothing
        await settle(pilot)
        assert not isinstance(app.screen, (SignalMenu, ConfirmDialog))

    drive(app, scenario)
    assert signals_sent(core) == [signal.SIGCONT, signal.SIGHUP]
    assert core.signal_calls[0].targets == identities(demo_snapshot(), 3003)


def test_readonly_sends_nothing_and_says_so() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core, readonly=True)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)
        await pilot.press("space", "T", "y", "K", "y", "k", "t", "y", "R", "y", "L", "y")
        await settle(pilot)
        assert not isinstance(app.screen, (ConfirmDialog, SignalMenu, RecoverDialog))

    drive(app, scenario)
    assert core.signal_calls == [] and core.reap_calls == [] and core.recover_calls == []
    assert "read-only" in notes(app)


def test_a_readonly_core_makes_the_app_readonly() -> None:
    app = make_app(FakeCore([demo_snapshot()], readonly=True))
    assert app.readonly


def test_escape_cancels_and_nothing_is_sent() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        select_pid(app, 3001)
        await pilot.press("T", "n")
        await settle(pilot)
        select_pid(app, 3002)
        await pilot.press("T", "enter")  # Enter presses the focused button: Cancel
        await settle(pilot)
        await pilot.press("K", "q")  # q in a dialog cancels, it does not quit
        await settle(pilot)
        assert app.is_running

    drive(app, scenario)
    assert core.signal_calls == [] and [c for c in core.reap_calls if not c.dry_run] == []


def test_R_plans_orphans_and_sure_abandoned_then_stale_after_the_toggle() -> None:
    core = FakeCore([demo_snapshot()])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        await pilot.press("R")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        await settle(pilot)  # the plan is made in a thread, from a fresh scan
        # bob's orphan, the zombie and the unsure abandoned worker are left out, with why.
        assert [p.pid for p in dialog.targets] == [3001, 3002, 3003, 3004, 4160]
        left_out = {p.pid for p, _ in dialog.excluded}
        assert left_out == {3010, 4119, 4140, 4170}
        assert "low confidence" in screen_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert [p.pid for p in dialog.targets] == [3001, 3002, 3003, 3004, 4119, 4160]
        await pilot.press("s")
        await settle(pilot)
        assert 4119 not in [p.pid for p in dialog.targets]
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario)
    reaps = [c for c in core.reap_calls if not c.dry_run]
    assert len(reaps) == 1
    assert reaps[0].targets == identities(demo_snapshot(), 3001, 3002, 3003, 3004, 4119, 4160)
    assert reaps[0].grace_s == app.grace_s
    assert "reap: 5 terminated, 1 killed" in notes(app)
    assert app.snapshot is not None
    assert {p.pid for p in app.snapshot.processes}.isdisjoint({3001, 3002, 3003, 4119, 4160})


def _without(snapshot: Snapshot, *pids: int) -> Snapshot:
    return replace(snapshot, processes=tuple(p for p in snapshot.processes if p.pid not in pids))


def test_reap_plans_from_a_fresh_scan_never_from_the_displayed_rows() -> None:
    # The rows on screen (an incremental view) still show 3002 and 3003; the fresh
    # scan the dialog asks for says they are gone: the plan must follow the scan.
    displayed = demo_snapshot()
    fresh = _without(displayed, 3002, 3003)
    core = FakeCore([displayed, fresh])
    app = make_app(core)
    app.interval_s = 3600.0  # no refresh in between: only the dialog scans

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        assert app.snapshot is not None and app.snapshot.get(3002) is not None
        assert core.fresh_scans == 0
        await pilot.press("R")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        await settle(pilot)
        assert core.fresh_scans == 1
        assert [p.pid for p in dialog.targets] == [3001, 3004, 4160]
        shown = screen_text(app)
        assert "3002" not in shown and "3003" not in shown
        await pilot.press("s")  # a re-plan is a plan too: a fresh scan again
        await settle(pilot)
        assert core.fresh_scans == 2
        assert [p.pid for p in dialog.targets] == [3001, 3004, 4119, 4160]
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario)
    reaps = [c for c in core.reap_calls if not c.dry_run]
    assert [c.targets for c in reaps] == [identities(fresh, 3001, 3004, 4119, 4160)]
    # Once the dialog closed, the list shows what the plan was made from.
    assert app.snapshot is not None and app.snapshot.get(3002) is None


def test_reap_cannot_be_confirmed_before_its_plan_arrives() -> None:
    core = demo_core()
    app = make_app(core)
    release = threading.Event()
    real_scan = core.scan

    def slow_scan(*, fresh: bool = False) -> Snapshot:
        if fresh:
            release.wait(10)
        return real_scan(fresh=fresh)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        core.scan = slow_scan  # type: ignore[method-assign]
        await pilot.press("R")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and dialog.planning
        assert "planning from a fresh scan" in screen_text(app)
        assert dialog.query_one("#confirm", Button).disabled
        await pilot.press("y")  # ignored: there is no plan yet
        assert app.screen is dialog
        release.set()
        await settle(pilot)
        assert not dialog.planning and [p.pid for p in dialog.targets][:1] == [3001]
        await pilot.press("escape")
        await settle(pilot)

    drive(app, scenario)
    assert [c for c in core.reap_calls if not c.dry_run] == []


def test_recover_plans_from_a_fresh_scan_never_from_the_displayed_rows() -> None:
    displayed = demo_snapshot()
    fresh = _without(displayed, 4119)  # the stale twin has gone since the last tick
    core = FakeCore([displayed, fresh])
    app = make_app(core)
    app.interval_s = 3600.0

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 4100)
        await pilot.press("L")
        await settle(pilot)
        assert core.fresh_scans == 1
        dialog = app.screen
        assert isinstance(dialog, RecoverDialog)
        assert [p.pid for p in dialog.plan.steps[0].reap] == [4160]
        await pilot.press("n")
        await settle(pilot)

    drive(app, scenario)
    assert core.recover_calls == []


def test_L_recovers_the_selected_dashboard_after_showing_the_plan() -> None:
    core = demo_core()
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 4122)  # a worker: its dashboard is the one
        await pilot.press("L")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, RecoverDialog)
        assert [s.dashboard.pid for s in dialog.plan.steps] == [4100]
        assert dialog.focused is not None and dialog.focused.id == "cancel"
        shown = screen_text(app)
        for text in ("needs reap+restart", "relaunch the same command", "tab (node 4120)"):
            assert text in shown, text
        assert "218 now → ~14 expected (soft limit 256)" in shown
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario, size=(120, 36))
    assert [[s.dashboard.pid for s in plan.steps] for plan in core.recover_calls] == [[4100]]
    said = notes(app)
    assert "dashboard 4100 recovered: now PID 5100; FDs 218 → 14 of 256" in said
    assert "reaped: 2 terminated" in said


def test_L_on_no_dashboard_plans_every_one_in_trouble() -> None:
    core = demo_core()
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)  # an orphan: no dashboard above it
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, RecoverDialog)
        assert [s.dashboard.pid for s in app.screen.plan.steps] == [4100]  # 5200 is fine
        await pilot.press("n")
        await settle(pilot)

    drive(app, scenario)
    assert core.recover_calls == []


def test_actions_use_identities_captured_when_the_dialog_opened() -> None:
    # While the dialog is open the pid is reused by another process: the core must
    # be handed the old identity (and then reports the row as changed).
    first = demo_snapshot()
    reused = replace(first.get(3001), identity=Identity(3001, 1.0, 501, ("sleep", "9")))  # type: ignore[arg-type]
    second = replace(
        first, processes=tuple(reused if p.pid == 3001 else p for p in first.processes)
    )
    core = FakeCore([first, second])
    app = make_app(core)

    async def scenario(app: HermesTopApp, pilot: Pilot[None]) -> None:
        select_pid(app, 3001)
        await pilot.press("T")
        app.request_scan()  # the list is frozen: this scan is held back
        await settle(pilot)
        assert app.snapshot is first
        await pilot.press("y")
        await settle(pilot)

    drive(app, scenario)
    assert core.signal_calls[0].targets == (first.get(3001).identity,)  # type: ignore[union-attr]
    assert "3001 slash_worker: changed" in notes(app)
