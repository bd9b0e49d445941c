"""Pure parts of the TUI: tree rows and sorting, CPU %, FD history, columns, the
header's layout, outcome summaries, the key table and the demo data."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from tui_helpers import with_cpu

from hermes_top.core.model import ActionResult, Confidence, Outcome, Remedy, Role, State
from hermes_top.core.recovery import RecoverOutcome
from hermes_top.testing import DEMO_NOW, demo_fd_samples, demo_snapshot
from hermes_top.tui import keys
from hermes_top.tui.actions import describe_results
from hermes_top.tui.app import HermesTopApp
from hermes_top.tui.keys import markdown_table
from hermes_top.tui.reports import describe_recover
from hermes_top.tui.widgets.columns import coarse_age, pick_columns, short_bytes
from hermes_top.tui.widgets.header import HeaderStrip, Status, status_line
from hermes_top.tui.widgets.process_table import ProcessTable
from hermes_top.view.history import CpuSampler, FdHistory, sparkline, trend_of
from hermes_top.view.tree import (
    LIVE_GROUP_KEY,
    Sort,
    build_rows,
    descendants,
    group_key,
    orphan_group,
    parent_chain,
)


def test_problems_come_first_then_the_live_tree() -> None:
    rows = build_rows(demo_snapshot())
    keys_ = [r.key for r in rows]
    groups = [k for k in keys_ if k.startswith("group:")]
    assert groups == [
        group_key(State.ORPHAN),
        group_key(State.ABANDONED),
        group_key(State.STALE),
        group_key(State.ZOMBIE),
        LIVE_GROUP_KEY,
    ]
    # Each group holds its state's processes (with what runs below them), in order.
    orphan_at, abandoned_at = keys_.index(groups[0]), keys_.index(groups[1])
    assert keys_[orphan_at + 1 : abandoned_at] == ["3001", "3004", "3002", "3003", "3010"]
    assert keys_[abandoned_at + 1 : keys_.index(groups[2])] == ["4160", "4170"]
    # A stale worker and a zombie under a live dashboard leave the live tree for their group.
    live = keys_[keys_.index(LIVE_GROUP_KEY) + 1 :]
    assert live[0] == "4100" and "4119" not in live and "4140" not in live
    assert {"4160", "4170"}.isdisjoint(live)
    by_key = {r.key: r for r in rows}
    assert by_key[groups[0]].group_size == 5 and by_key[groups[0]].members[:2] == (3001, 3004)
    assert by_key["3004"].guide == "│  └─ " and by_key["4126"].guide == "│           └─ "
    # Every process is shown exactly once.
    shown = [r.pid for r in rows if r.pid is not None]
    assert sorted(shown) == sorted(p.pid for p in demo_snapshot().processes)


def test_without_problems_there_are_no_group_rows() -> None:
    snap = demo_snapshot()
    fine = replace(snap, processes=tuple(p for p in snap.processes if p.state is State.LIVE))
    rows = build_rows(fine)
    assert all(r.proc is not None for r in rows) and rows[0].key == "4100"


def test_collapse_filter_and_flat_sort() -> None:
    snap = demo_snapshot()
    folded = [r.key for r in build_rows(snap, collapsed={"4120", group_key(State.ORPHAN)})]
    assert "4121" not in folded and "4122" not in folded and "3001" not in folded
    assert "4130" in folded and group_key(State.ORPHAN) in folded
    # A match deep in the tree keeps its ancestors so it stays in context.
    assert [r.key for r in build_rows(snap, filter_text="claude")] == [
        "4100",
        "4120",
        "4121",
        "4122",
    ]
    flat = build_rows(snap, tree=False, sort="fds")
    # The zombie has no FD count, bob's worker none readable: they sort last.
    assert [r.key for r in flat][:2] == ["4100", "5200"] and {flat[-1].key, flat[-2].key} == {
        "4140",
        "3010",
    }
    by_state = [r.proc.state for r in build_rows(snap, tree=False, sort="state") if r.proc]
    assert by_state[0] == State.ORPHAN and by_state[-1] == State.LIVE


def test_sort_direction_inverts_but_unknown_values_stay_last() -> None:
    snap = demo_snapshot()
    mem = Sort("rss")
    assert mem.descending and mem.arrow == "▼"
    down = [r.pid for r in build_rows(snap, tree=False, sort=mem)]
    up = [r.pid for r in build_rows(snap, tree=False, sort=Sort("rss", inverted=True))]
    assert down[0] == 4100 and down[-1] == 4140  # the zombie has no RSS
    assert up[0] == 3004 and up[-1] == 4140
    assert Sort("pid").arrow == "▲" and Sort("pid", inverted=True).arrow == "▼"
    pids = [r.pid for r in build_rows(snap, tree=False, sort=Sort("pid", inverted=True))]
    assert pids == sorted(pids, reverse=True)  # type: ignore[type-var]


def test_subtree_groups_and_parent_chain() -> None:
    snap = demo_snapshot()
    assert [p.pid for p in descendants(snap, 4120)] == [4120, 4121, 4122, 4125, 4126]
    assert [p.pid for p in orphan_group(snap)] == [3001, 3004, 3002, 3003, 3010]
    assert parent_chain(snap, 4122) == [
        (4122, "slash_worker"),
        (4121, "gateway_entry"),
        (4120, "tui"),
        (4100, "dashboard"),
        (812, "not Hermes"),
    ]


def test_cpu_percent_from_two_snapshots_follows_identity() -> None:
    first = with_cpu(demo_snapshot(), {4100: 10.0, 3001: 5.0})
    second = with_cpu(demo_snapshot(), {4100: 10.5, 3001: 5.0}, later=2.0)
    sampler = CpuSampler()
    assert sampler.update(first) == {} and sampler.available
    assert sampler.update(second)[4100] == 25.0  # 0.5 s of CPU in 2 s
    # The same instant again (a frozen clock): keep what was shown.
    assert sampler.update(second)[4100] == 25.0
    # PID 4100 reused by a new process: no percentage from the old one's time.
    reused = replace(second.get(4100), identity=replace(second.get(4100).identity, create_time=1.0))  # type: ignore[arg-type,union-attr]
    third = replace(
        second,
        processes=tuple(reused if p.pid == 4100 else p for p in second.processes),
        taken_at=second.taken_at + 2,
    )
    assert 4100 not in sampler.update(third)
    # No CPU times in a snapshot: no CPU column.
    assert sampler.update(demo_snapshot()) == {} and not sampler.available


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


def test_columns_fit_the_width_and_cells_tick_coarsely() -> None:
    def keys_at(width: int, cpu: bool = False) -> list[str]:
        return [c.key for c in pick_columns(width, cpu)[0]]

    assert keys_at(120) == ["pid", "role", "session", "state", "age", "rss", "fds", "user"]
    assert keys_at(80) == ["pid", "role", "state", "age", "rss", "fds", "user"]
    assert keys_at(80, cpu=True) == ["pid", "role", "state", "age", "cpu", "rss", "fds", "user"]
    assert keys_at(60) == ["pid", "state", "age", "fds", "user"]
    for width, cpu in ((60, False), (80, True), (80, False), (120, True)):
        columns, command = pick_columns(width, cpu)
        assert sum(c.width for c in columns) + command + 1 <= width, (width, cpu)
        assert command >= 18
    assert [coarse_age(s) for s in (59, 61, 119, 3599, 3600, 86399, 90000)] == [
        "59s",
        "1m",
        "1m",
        "59m",
        "1h00m",
        "23h59m",
        "1d01h",
    ]
    assert [short_bytes(n) for n in (None, 800 * 1024, 24 * 2**20 + 5, 1536 * 2**20)] == [
        "-",
        "800K",
        "24M",
        "1.5G",
    ]


def test_status_line_starts_with_what_the_user_set() -> None:
    status = Status(2.0, True, True, False, Sort("fds"), "bob", 3)
    text = status_line("hermes-top", demo_snapshot(), status).plain
    assert text.startswith("READ-ONLY · ‖ PAUSED · flat · sort fds ▼ · 3 tagged · filter “bob”")
    assert text.endswith("hermes-top")
    assert "5 orphan" in text and "2 abandoned" in text


def test_header_is_one_line_per_dashboard_when_short_and_trouble_first() -> None:
    snap = demo_snapshot()
    history = FdHistory()
    status = Status(2.0, False, False, True, Sort(), "", 0)
    shown: list[Text] = []
    strip = HeaderStrip()
    strip.update = lambda content="", layout=True: shown.append(content)  # type: ignore[method-assign,assignment,misc]
    strip.show("t", replace(snap, dashboards=snap.dashboards[::-1]), history, status, (80, 24))
    lines = shown[-1].plain.splitlines()
    assert len(lines) == 3 and lines[0].startswith("▣ 4100") and "reap+restart: L" in lines[0]
    assert lines[1].startswith("▣ 5200")
    strip.show("t", snap, history, status, (120, 40))
    tall = shown[-1].plain.splitlines()
    assert len(tall) > 3 and tall[0].startswith("▣ dash 4100")
    assert any("needs reap+restart: L — 2 leaked" in line for line in tall)
    assert any("a restart 160" in line for line in tall)


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


def test_describe_recover_says_new_pid_fds_and_why_not() -> None:
    ok = RecoverOutcome(4100, 9119, 5100, True, 218, 14, 256, None, None, None, True, "recovered")
    title, text, severity = describe_recover(ok)
    assert title == "recover 4100" and severity == "information"
    assert text.splitlines() == ["dashboard 4100 recovered: now PID 5100; FDs 218 → 14 of 256"]
    failed = replace(ok, ok=False, new_pid=None, fds_after=None, detail="no dashboard answers")
    _, text, severity = describe_recover(failed)
    assert severity == "error"
    assert text.splitlines() == [
        "dashboard 4100 not recovered: no dashboard answers",
        "FDs 218 → ? of 256",
    ]


def test_key_table_lists_every_key_and_each_has_an_action() -> None:
    table = markdown_table()
    for key in ("`T`", "`K`", "`k F9`", "`Space`", "`c`", "`u`", "`R`", "`L`", "`/`", "`Esc`"):
        assert key in table
    for key in ("`t F5`", "`> s`", "`<`", "`P`", "`M`", "`I`", "`p Z`", "`Home End`"):
        assert key in table
    for k in keys.KEYS:
        owners = (HermesTopApp, ProcessTable) if k.table else (HermesTopApp,)
        assert any(hasattr(o, f"action_{k.action}") for o in owners), k.action


def test_demo_data_has_every_state_and_role_and_is_deterministic() -> None:
    snap = demo_snapshot()
    assert snap == demo_snapshot()
    assert {p.state for p in snap.processes} == set(State)
    assert {p.role for p in snap.processes} >= {Role.MCP, Role.CHILD, Role.DASHBOARD, Role.TUI}
    abandoned = {p.confidence for p in snap.processes if p.state is State.ABANDONED}
    assert abandoned == {Confidence.HIGH, Confidence.LOW}
    old, new = snap.dashboards
    assert (old.hermes_version, old.remedy) == ("0.13.0", Remedy.REAP_RESTART)
    assert (new.hermes_version, new.remedy) == ("0.19.0", Remedy.NONE)
    assert old.fd_budget is not None and old.fd_budget.total == old.num_fds
    assert all(p.rss_bytes for p in snap.processes if p.state is not State.ZOMBIE)
