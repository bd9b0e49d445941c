"""The guard's decisions over canned snapshots (FakeCore): recover at 95 % only
when asked and allowed, the notification seam on both platforms."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from hermes_top.core.guard import AlertKind, Guard, GuardConfig, alerts_for
from hermes_top.core.guard_notify import desktop_notifier, notify_argv
from hermes_top.core.problems import FD_CRITICAL_RATIO, FD_HIGH_RATIO
from hermes_top.testing.demo_data import demo_snapshot
from hermes_top.testing.fake_core import FakeCore
from hermes_top.view.history import Trend

#: The demo's leaking dashboard (256 soft limit).
OLD = 4242


def _old_ratio(fds: int) -> float:
    snap = demo_snapshot(old_fds=fds)
    dash = next(d for d in snap.dashboards if d.num_fds == fds)
    assert dash.fd_ratio is not None
    return dash.fd_ratio


def _critical_fds() -> int:
    return next(n for n in range(200, 257) if _old_ratio(n) >= FD_CRITICAL_RATIO)


def _old_pid(fds: int) -> int:
    snap = demo_snapshot(old_fds=fds)
    return next(d.pid for d in snap.dashboards if d.num_fds == fds)


def test_alert_thresholds_are_the_problems_module_s() -> None:
    below = next(n for n in range(150, 257) if _old_ratio(n + 1) >= FD_HIGH_RATIO)
    for fds, want in ((below, []), (below + 1, [AlertKind.FD_HIGH])):
        snap = demo_snapshot(old_fds=fds)
        pid = _old_pid(fds)
        kinds = [a.kind for a in alerts_for(snap, {}) if a.dashboard_pid == pid]
        assert kinds == want, (fds, _old_ratio(fds))
    crit = _critical_fds()
    snap = demo_snapshot(old_fds=crit)
    assert [a.kind for a in alerts_for(snap, {}) if a.dashboard_pid == _old_pid(crit)] == [
        AlertKind.FD_CRITICAL
    ]


def test_trend_alert_only_within_the_horizon() -> None:
    snap = demo_snapshot(old_fds=100)
    pid = _old_pid(100)
    soon = {pid: Trend(2.0, 1800.0, 256)}
    late = {pid: Trend(0.1, 5 * 3600.0, 256)}
    assert [a.kind for a in alerts_for(snap, soon) if a.dashboard_pid == pid] == [
        AlertKind.FD_TREND
    ]
    assert [a for a in alerts_for(snap, late) if a.dashboard_pid == pid] == []


def _guard(core: FakeCore, *, recover: bool) -> tuple[Guard, list[str]]:
    log: list[str] = []
    return Guard(core, GuardConfig(min_age_s=0.0, recover=recover), log=log.append), log


def test_recover_runs_at_95_percent_when_asked() -> None:
    crit = _critical_fds()
    core = FakeCore([demo_snapshot(old_fds=crit)])
    guard, log = _guard(core, recover=True)
    report = guard.tick()
    assert report.ok, report.error
    assert [s.dashboard.pid for p in core.recover_calls for s in p.steps] == [_old_pid(crit)]
    assert report.recover is not None and report.recover.ok
    stats = guard.stats()
    assert stats.recoveries == {"ok": 1} and stats.restarts == 1
    assert any("recovering dashboard" in line for line in log)
    guard.tick()  # backed off: not recovered again on the next tick
    assert len(core.recover_calls) == 1


def test_no_recover_below_95_percent_or_without_the_flag() -> None:
    high = demo_snapshot(old_fds=next(n for n in range(150, 257) if _old_ratio(n) >= 0.85))
    core = FakeCore([high])
    guard, _ = _guard(core, recover=True)
    guard.tick()
    assert core.recover_calls == []
    crit = FakeCore([demo_snapshot(old_fds=_critical_fds())])
    guard, _ = _guard(crit, recover=False)
    guard.tick()
    assert crit.recover_calls == []


def test_readonly_guard_never_recovers_or_reaps() -> None:
    core = FakeCore([demo_snapshot(old_fds=_critical_fds())], readonly=True)
    guard, log = _guard(core, recover=True)
    report = guard.tick()
    assert report.ok
    assert core.recover_calls == [] and core.reap_calls == []
    assert report.held_back, "the demo has orphans to hold back"
    assert any("would recover dashboard" in line for line in log)


def test_a_failing_notifier_is_said_once_and_the_guard_goes_on() -> None:
    crit = _critical_fds()
    snaps = [demo_snapshot(old_fds=crit), demo_snapshot(old_fds=100), demo_snapshot(old_fds=crit)]
    core = FakeCore(snaps, readonly=True)
    log: list[str] = []

    def broken(title: str, message: str) -> None:
        raise OSError("no session bus")

    guard = Guard(core, GuardConfig(), log=log.append, notify=broken)
    for _ in snaps:
        assert guard.tick().ok
    assert sum("desktop notification failed" in line for line in log) == 1
    assert guard.stats().warnings.get("fd_critical") == 2


# -- the notification seam -----------------------------------------------------------


def test_macos_notification_through_osascript_by_injection() -> None:
    calls: list[Sequence[str]] = []
    notify = desktop_notifier(
        "darwin",
        which=lambda name: "/usr/bin/osascript" if name == "osascript" else None,
        run=calls.append,
    )
    assert notify is not None
    hostile = 'dash 7 "quoted" \x1b[31m & do shell script "rm -rf ~"'
    notify("Hermes dashboard near its FD limit", hostile)
    (argv,) = calls
    assert argv[0] == "/usr/bin/osascript"
    # The script is fixed; the message is an argument after it, escaped.
    scripts = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert scripts == [
        "on run argv",
        "display notification (item 1 of argv) with title (item 2 of argv)",
        "end run",
    ]
    message, title = argv[-2], argv[-1]
    assert "\x1b" not in message and "\\e[31m" in message
    assert title == "Hermes dashboard near its FD limit"
    assert all("rm -rf" not in s for s in scripts)


def test_linux_notification_through_notify_send() -> None:
    calls: list[Sequence[str]] = []
    notify = desktop_notifier(
        "linux",
        which=lambda name: f"/usr/bin/{name}" if name == "notify-send" else None,
        run=calls.append,
    )
    assert notify is not None
    notify("title", "-x looks like an option")
    assert calls == [
        ["/usr/bin/notify-send", "--app-name=hermes-top", "--", "title", "-x looks like an option"]
    ]


@pytest.mark.parametrize("system", ["darwin", "linux"])
def test_no_notifier_without_its_tool(system: str) -> None:
    assert desktop_notifier(system, which=lambda name: None) is None


def test_long_messages_are_bounded() -> None:
    argv = notify_argv("linux", "/bin/notify-send", "t", "x" * 5000)
    assert len(argv[-1]) <= 300


def test_guard_reaps_orphans_and_sure_abandoned_workers_only() -> None:
    from hermes_top.core.model import Confidence, State

    snap = demo_snapshot()
    core = FakeCore([snap])
    guard, _ = _guard(core, recover=False)
    report = guard.tick()
    assert report.ok, report.error
    (call,) = core.reap_calls
    reaped = {i.pid for i in call.targets}
    want = {p.pid for p in core.plan_reap(snap, min_age_s=0.0).targets}
    assert reaped == want
    by_pid = {p.pid: p for p in snap.processes}
    states = {by_pid[pid].state for pid in reaped}
    assert State.ABANDONED in states and State.ORPHAN in states
    assert State.STALE not in states and State.LIVE not in states
    assert all(
        by_pid[pid].confidence is Confidence.HIGH
        for pid in reaped
        if by_pid[pid].state is State.ABANDONED
    )
    unsure = [p.pid for p in snap.processes if p.confidence is Confidence.LOW]
    assert unsure and not set(unsure) & reaped
