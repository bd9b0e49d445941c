"""The TUI reuses last tick's classification while nothing it was judged from
changed (core/verdict_memo.py). Each input changed in turn must miss and give
what a classification from scratch gives; the clock is checked by asking last
time's questions again, so a verdict never lags it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from hermes_top.core.classify import ancestor_chains, classify
from hermes_top.core.dashboard_api import ActiveSession
from hermes_top.core.evidence import DashboardEvidence, SessionEnd
from hermes_top.core.model import Role, State
from hermes_top.core.procfs import RawProc
from hermes_top.core.rules import ABANDON_MIN_AGE_S, Match, facts_for
from hermes_top.core.verdict import Candidate
from hermes_top.core.verdict_memo import VerdictMemo

NOW = 1_800_000_000.0
K1, K2, K3, K4 = (f"20260101_000000_{i:06x}" for i in range(1, 5))


class World:
    """A dashboard with a kept worker (parked), an ended one (abandoned), a young
    one, an orphan, an MCP watchdog below the orphan and a worker two shells
    below the dashboard, an orphan whose parent's PID was reused."""

    def __init__(self) -> None:
        self.procs: dict[int, RawProc] = {
            1: RawProc(1, 0, "init", "S", NOW - 9000, 0, 1, 1),
            100: RawProc(100, 1, "python3", "S", NOW - 5000, 501, 100, 100),
            101: RawProc(101, 100, "python3", "S", NOW - 900, 501, 100, 100),
            102: RawProc(102, 100, "python3", "S", NOW - 1000, 501, 100, 100),
            103: RawProc(103, 100, "python3", "S", NOW - ABANDON_MIN_AGE_S + 0.5, 501, 100, 100),
            200: RawProc(200, 1, "python3", "S", NOW - 800, 501, 200, 200),
            300: RawProc(300, 200, "node", "S", NOW - 700, 501, 200, 200),
            # A worker two shells below the dashboard (neither shell is Hermes).
            60: RawProc(60, 100, "bash", "S", NOW - 4000, 501, 100, 100),
            61: RawProc(61, 60, "bash", "S", NOW - 3000, 501, 100, 100),
            104: RawProc(104, 61, "python3", "S", NOW - 600, 501, 100, 100),
            # An orphan whose parent's PID was reused by a younger process.
            78: RawProc(78, 1, "sleep", "S", NOW - 50, 501, 78, 78),
            201: RawProc(201, 78, "python3", "S", NOW - 500, 501, 201, 201),
        }
        self.matches: dict[int, Match] = {
            100: Match(Role.DASHBOARD, port=9119),
            101: Match(Role.SLASH_WORKER, session_key=K1),
            102: Match(Role.SLASH_WORKER, session_key=K2),
            103: Match(Role.SLASH_WORKER, session_key=K4),
            200: Match(Role.SLASH_WORKER, session_key=K3),
            300: Match(Role.MCP, watches=4242),
            104: Match(Role.SLASH_WORKER, session_key="20260101_000000_000005"),
            201: Match(Role.SLASH_WORKER, session_key="20260101_000000_000006"),
        }
        self.hidden: frozenset[int] = frozenset()
        self.evidence = {
            100: DashboardEvidence(
                "0.19.0",
                facts_for("0.19.0"),
                ports=(9119,),
                browser_connections=0,
                sessions={K1: ActiveSession("s1", K1, "idle", last_active=NOW - 100)},
                sessions_note="2 sessions listed",
                ended={K2: SessionEnd(NOW - 300, "user closed")},
            )
        }

    def found(self) -> dict[int, Candidate]:
        return {
            pid: Candidate(self.procs[pid], ("python3", str(pid)), match)
            for pid, match in self.matches.items()
        }

    def classify_with(self, memo: VerdictMemo, now: float = NOW) -> object:
        found = self.found()
        chains = ancestor_chains(found, self.procs)
        return memo.classify(self.procs, found, self.hidden, self.evidence, now, chains)

    def from_scratch(self, now: float = NOW) -> object:
        found = self.found()
        chains = ancestor_chains(found, self.procs)
        return classify(self.procs, found, self.hidden, self.evidence, now, chains)


def test_the_world_has_every_time_dependent_verdict() -> None:
    verdicts, _ = World().from_scratch()  # type: ignore[misc]
    assert verdicts[101].state is State.PARKED and "left" in verdicts[101].reason
    assert verdicts[102].state is State.ABANDONED
    assert any("ended 5 min ago" in e for e in verdicts[102].evidence)
    assert verdicts[103].state is State.LIVE  # not old enough to be judged
    assert verdicts[200].state is State.ORPHAN
    assert verdicts[104].state is State.LIVE and verdicts[104].host_pid == 100
    assert verdicts[201].state is State.ORPHAN and "sleep 78" in verdicts[201].reason


def test_equal_inputs_at_a_time_with_the_same_answers_reuse_the_result() -> None:
    world, memo = World(), VerdictMemo()
    first = world.classify_with(memo)
    world.procs[101] = world.procs[101]._replace(cpu_s=3.5)  # CPU time decides nothing
    again = world.classify_with(memo, NOW + 0.2)
    assert again is first and (memo.hits, memo.misses) == (1, 1)
    assert again == world.from_scratch(NOW + 0.2)


def _reparent(w: World) -> None:
    w.procs[101] = w.procs[101]._replace(ppid=1)


def _zombie(w: World) -> None:
    w.procs[102] = w.procs[102]._replace(status="Z")


def _rename_ancestor(w: World) -> None:
    w.procs[1] = w.procs[1]._replace(name="systemd")


def _orphans_parent_gone(w: World) -> None:
    w.procs[200] = w.procs[200]._replace(ppid=77)


def _shell_between_reparented(w: World) -> None:
    w.procs[60] = w.procs[60]._replace(ppid=1)  # no found process's parent: only its chain says


def _reused_parent_renamed(w: World) -> None:
    w.procs[78] = w.procs[78]._replace(name="node")  # in no chain: younger than its "child"


def _hide(w: World) -> None:
    w.hidden = frozenset({1})


def _browser(w: World) -> None:
    w.evidence[100] = dataclasses.replace(w.evidence[100], browser_connections=3)


def _watched_appears(w: World) -> None:
    w.procs[4242] = RawProc(4242, 1, "python3", "S", NOW - 10, 501, 1, 1)


def _new_key(w: World) -> None:
    w.matches[102] = Match(Role.SLASH_WORKER, session_key=K1)


def _dashboard_gone(w: World) -> None:
    del w.matches[100]


@pytest.mark.parametrize(
    "change",
    [
        _reparent,
        _zombie,
        _rename_ancestor,
        _orphans_parent_gone,
        _shell_between_reparented,
        _reused_parent_renamed,
        _hide,
        _browser,
        _watched_appears,
        _new_key,
        _dashboard_gone,
    ],
)
def test_each_changed_input_is_classified_again(change: Callable[[World], None]) -> None:
    world, memo = World(), VerdictMemo()
    first = world.classify_with(memo)
    change(world)
    again = world.classify_with(memo)
    assert memo.misses == 2
    assert again == world.from_scratch()
    assert again != first


@pytest.mark.parametrize(
    ("later", "why"),
    [
        (1.0, "the young worker is now old enough to be judged"),
        (31.0, "'ended 5 min ago' now reads 6 min"),
    ],
)
def test_a_changed_answer_of_the_clock_is_classified_again(later: float, why: str) -> None:
    world, memo = World(), VerdictMemo()
    first = world.classify_with(memo)
    again = world.classify_with(memo, NOW + later)
    assert memo.misses == 2, why
    assert again == world.from_scratch(NOW + later)
    assert again != first, why


def test_a_worker_crossing_the_age_is_judged_the_tick_it_crosses() -> None:
    world, memo = World(), VerdictMemo()
    world.classify_with(memo)
    verdicts, _ = world.classify_with(memo, NOW + 1.0)  # type: ignore[misc]
    assert verdicts[103].state is State.ABANDONED
