"""Pure parts of the TUI: tree rows, FD history, outcome summaries, key table."""

from __future__ import annotations

from hermes_top.core.model import ActionResult, Outcome, Role, State
from hermes_top.testing import DEMO_NOW, demo_fd_samples, demo_snapshot
from hermes_top.tui.app import describe_results
from hermes_top.tui.history import FdHistory, sparkline, trend_of
from hermes_top.tui.keys import markdown_table
from hermes_top.tui.tree import build_rows, descendants, orphan_group, parent_chain


def test_tree_follows_parent_links_and_groups_orphans() -> None:
    rows = build_rows(demo_snapshot())
    keys = [r.key for r in rows]
    assert keys[:8] == ["4100", "4119", "4120", "4121", "4122", "4130", "4131", "4140"]
    assert keys[8:11] == ["5200", "5210", "5211"]
    assert keys[11:] == ["orphans", "3001", "3002", "3003", "3010"]
    guides = {r.key: r.guide for r in rows}
    assert guides["4122"] == "│     └─ " and guides["4140"] == "└─ " and guides["3010"] == "└─ "
    group = rows[11]
    assert group.proc is None and group.count == 4


def test_collapse_filter_and_flat_sort() -> None:
    snap = demo_snapshot()
    folded = [r.key for r in build_rows(snap, collapsed={"4120", "orphans"})]
    assert "4121" not in folded and "4122" not in folded and "3001" not in folded
    assert "4119" in folded and "orphans" in folded
    # A match deep in the tree keeps its ancestors so it stays in context.
    assert [r.key for r in build_rows(snap, filter_text="claude")] == [
        "4100",
        "4120",
        "4121",
        "4122",
    ]
    flat = build_rows(snap, tree=False, sort="fds")
    # The zombie has no FD count: it sorts last.
    assert [r.key for r in flat][:2] == ["4100", "5200"] and flat[-1].key == "4140"
    by_state = [r.proc.state for r in build_rows(snap, tree=False, sort="state") if r.proc]
    assert by_state[0] == State.ORPHAN and by_state[-1] == State.LIVE


def test_subtree_orphan_group_and_parent_chain() -> None:
    snap = demo_snapshot()
    assert [p.pid for p in descendants(snap, 4120)] == [4120, 4121, 4122]
    assert [p.pid for p in orphan_group(snap)] == [3001, 3002, 3003, 3010]
    assert parent_chain(snap, 4122) == [
        (4122, "slash_worker"),
        (4121, "gateway_entry"),
        (4120, "tui"),
        (4100, "dashboard"),
        (1, "init/launchd"),
    ]


def test_leak_rate_and_time_to_exhaustion() -> None:
    history = FdHistory()
    history.extend(4100, demo_fd_samples()[4100])
    trend = history.trend(4100, 256)
    assert trend.rate_per_min is not None and 1.1 < trend.rate_per_min < 1.3
    assert trend.describe() == "~32 min to the 256 limit at +1.2 FD/min"
    three_hours = [(DEMO_NOW - 60.0 * (30 - i), 40 + i) for i in range(31)]
    assert trend_of(three_hours, 256).describe() == "~3 h to the 256 limit at +1.0 FD/min"
    flat = [(DEMO_NOW - 60.0 * i, 61) for i in range(10, -1, -1)]
    assert trend_of(flat, 1024).describe() == "steady (+0.0 FD/min)"
    assert trend_of(flat[-1:], 1024).describe() == "collecting history…"


def test_history_ignores_same_instant_and_forgets_gone_dashboards() -> None:
    history = FdHistory()
    history.add(1, 10.0, 5)
    history.add(1, 10.0, 7)  # a frozen clock must not fake a rate
    history.add(2, 10.0, 3)
    assert history.values(1) == [7]
    history.forget_except([1])
    assert history.values(2) == []
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5], 8) == "▁▁▁"


def test_describe_results_counts_and_names_every_failure() -> None:
    results = (
        ActionResult(1, Role.SLASH_WORKER, State.ORPHAN, Outcome.TERMINATED, "exited"),
        ActionResult(2, Role.SLASH_WORKER, State.ORPHAN, Outcome.DENIED, "EPERM"),
        ActionResult(3, Role.TUI, State.ZOMBIE, Outcome.ZOMBIE, "parent 9 must reap it"),
    )
    text, severity = describe_results("reap", results)
    assert severity == "warning"
    assert text.splitlines() == [
        "reap: 1 terminated, 1 denied, 1 zombie",
        "2 slash_worker: denied — EPERM",
        "3 tui: zombie — parent 9 must reap it",
    ]
    assert describe_results("reap", results[:1])[1] == "information"
    assert describe_results("reap", results[1:])[1] == "error"


def test_key_table_lists_every_documented_key() -> None:
    table = markdown_table()
    for key in ("`T`", "`K`", "`Space`", "`c`", "`R`", "`L`", "`/`", "`t`", "`s`", "`p`"):
        assert key in table
