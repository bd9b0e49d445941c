"""The header keeps each dashboard's lines while what they show is unchanged:
whatever changes (any DashboardInfo field, the counts below it, its FD
history, the width), the kept lines equal lines built from scratch."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from rich.text import Text

from hermes_top.core.model import DashboardInfo, FdLimits, Remedy, Snapshot, State
from hermes_top.testing import DEMO_NOW, demo_fd_samples, demo_snapshot
from hermes_top.tui.widgets.header import BlockKey, dashboard_lines
from hermes_top.view.history import FdHistory

Memo = dict[tuple[int, bool], tuple[BlockKey, list[Text]]]

#: A different value for every DashboardInfo field (the test fails when a new
#: field is missing here: it must be shown, or listed in NOT_SHOWN, on purpose).
OTHER_VALUE: dict[str, Any] = {
    "pid": 4242,
    "num_fds": 201,
    "limits": FdLimits(512, 1024, "plist", True, "from the plist"),
    "reclaimable_fds": 77,
    "reclaimable_is_estimate": True,
    "sessions": (),
    "port": 9200,
    "profile": "other",
    "hermes_version": "0.19.0",
    "fd_budget": None,
    "restart_frees": 99,
    "remedy": Remedy.RESTART,
    "remedy_reason": "another reason",
    "rss_bytes": 9 * 1024**3,
}


def history_of(snap: Snapshot) -> FdHistory:
    history = FdHistory()
    for pid, samples in demo_fd_samples().items():
        history.extend(pid, samples)
    return history


def texts(lines: list[Text]) -> list[tuple[str, str]]:
    return [(line.plain, line.markup) for line in lines]


@pytest.mark.parametrize("size", [(118, 60), (78, 24)], ids=["blocks", "one-line"])
@pytest.mark.parametrize("name", [f.name for f in fields(DashboardInfo)])
def test_a_changed_field_draws_what_a_fresh_header_draws(name: str, size: tuple[int, int]) -> None:
    snap = demo_snapshot()
    history = history_of(snap)
    memo: Memo = {}
    dashboard_lines(snap, history, *size, memo)
    first = snap.dashboards[0]
    assert getattr(first, name) != OTHER_VALUE[name]
    changed = replace(
        snap, dashboards=(replace(first, **{name: OTHER_VALUE[name]}), *snap.dashboards[1:])
    )
    kept = dashboard_lines(changed, history, *size, memo)
    assert texts(kept) == texts(dashboard_lines(changed, history, *size))


def test_every_field_has_another_value_to_try() -> None:
    assert set(OTHER_VALUE) == {f.name for f in fields(DashboardInfo)}


def test_counts_history_and_width_changes_draw_what_a_fresh_header_draws() -> None:
    snap = demo_snapshot()
    history = history_of(snap)
    memo: Memo = {}
    dashboard_lines(snap, history, 118, 60, memo)
    # One live process below a dashboard turns stale: its counts line changes.
    victim = next(p for p in snap.processes if p.state is State.LIVE and p.dashboard_pid)
    procs = tuple(replace(p, state=State.STALE) if p is victim else p for p in snap.processes)
    moved = replace(snap, processes=procs)
    assert texts(dashboard_lines(moved, history, 118, 60, memo)) == texts(
        dashboard_lines(moved, history, 118, 60)
    )
    # A new FD sample: the sparkline and the trend change.
    history.add(victim.dashboard_pid or 0, DEMO_NOW + 60, 250)
    assert texts(dashboard_lines(moved, history, 118, 60, memo)) == texts(
        dashboard_lines(moved, history, 118, 60)
    )
    assert texts(dashboard_lines(moved, history, 100, 60, memo)) == texts(
        dashboard_lines(moved, history, 100, 60)
    )


def test_unchanged_dashboards_reuse_their_lines_and_gone_ones_are_forgotten() -> None:
    snap = demo_snapshot()
    history = history_of(snap)
    memo: Memo = {}
    before = dashboard_lines(snap, history, 118, 60, memo)
    again = dashboard_lines(replace(snap, taken_at=snap.taken_at + 1), history, 118, 60, memo)
    assert len(again) == len(before) and all(a is b for a, b in zip(again, before, strict=True))
    dashboard_lines(replace(snap, dashboards=snap.dashboards[:1]), history, 118, 60, memo)
    assert {pid for pid, _ in memo} == {snap.dashboards[0].pid}


def test_a_new_sample_redraws_the_sparkline_while_the_trend_still_says_the_same() -> None:
    snap = demo_snapshot()
    pid = snap.dashboards[0].pid
    history = FdHistory()
    history.extend(pid, [(DEMO_NOW, 100), (DEMO_NOW + 1, 100)])
    memo: Memo = {}
    before = texts(dashboard_lines(snap, history, 118, 60, memo))
    history.add(pid, DEMO_NOW + 2, 140)  # under a minute of history: no trend yet
    after = texts(dashboard_lines(snap, history, 118, 60, memo))
    assert after == texts(dashboard_lines(snap, history, 118, 60)) and after != before
    assert all("collecting history" in p for p, _ in after if "a reap frees" in p)
