"""Dashboards are asked at the same time (core/evidence.ask_due): a scan waits
for the slowest, not for the sum; each answer lands in the cache as a lone ask
would leave it, so ``gather`` asks no one again; a failure is raised in the
scan's thread; and what is not due is not asked."""

from __future__ import annotations

import threading
import time

import pytest

from hermes_top.core import evidence
from hermes_top.core.evidence import EVIDENCE_TTL_S, EvidenceCache, ask_due, gather
from hermes_top.core.rules import facts_for

LISTS = "0.19.0"  # a version whose dashboards list their sessions
assert facts_for(LISTS).lists_sessions
DELAY_S = 0.3


def _slow_asks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    asked: list[tuple[int, str]] = []

    def ask(cache: EvidenceCache, key: tuple[int, float], ports: tuple[int, ...]) -> object:
        asked.append((key[0], threading.current_thread().name))
        time.sleep(DELAY_S)
        return None, f"asked {key[0]}"

    monkeypatch.setattr(evidence, "_ask", ask)
    return asked


def _cache(pids: list[int]) -> EvidenceCache:
    cache = EvidenceCache()
    for pid in pids:
        cache.versions[(pid, 1.0)] = LISTS
    return cache


def test_three_dashboards_take_as_long_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _slow_asks(monkeypatch)
    cache = _cache([1, 2, 3])
    wanted = [((pid, 1.0), (), (9000 + pid,)) for pid in (1, 2, 3)]
    start = time.monotonic()
    ask_due(cache, wanted, now=100.0)
    took = time.monotonic() - start
    assert took < 2 * DELAY_S, took  # one after another would be 3 x DELAY_S
    assert sorted(pid for pid, _ in asked) == [1, 2, 3]
    assert {name for _, name in asked} == {"hermes-top-ask"}
    assert cache.sessions == {(pid, 1.0): (100.0, None, f"asked {pid}") for pid in (1, 2, 3)}
    # gather finds each answer fresh: nobody is asked again.
    for pid in (1, 2, 3):
        found = gather(
            cache,
            (pid, 1.0),
            argv=(),
            uid=0,
            profile=None,
            ports=(9000 + pid,),
            browser_connections=0,
            worker_keys=(),
            environ={},
            now=100.0,
        )
        assert found.sessions_note == f"asked {pid}"
    assert len(asked) == 3


def test_only_what_is_due_is_asked_and_a_lone_one_is_left_to_gather(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _slow_asks(monkeypatch)
    cache = _cache([1, 2, 3])
    cache.sessions[(1, 1.0)] = (99.0, None, "fresh")
    cache.sessions[(2, 1.0)] = (99.0 - EVIDENCE_TTL_S, None, "stale")
    wanted = [((pid, 1.0), (), (9000 + pid,)) for pid in (1, 2)]
    ask_due(cache, wanted, now=100.0)
    assert asked == []  # only 2 is due: gather asks it, no thread for one
    ask_due(cache, [*wanted, ((3, 1.0), (), (9003,))], now=100.0)
    assert sorted(pid for pid, _ in asked) == [2, 3]
    assert cache.sessions[(1, 1.0)] == (99.0, None, "fresh")


def test_a_failure_in_an_ask_is_raised_in_the_scans_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(cache: EvidenceCache, key: tuple[int, float], ports: tuple[int, ...]) -> object:
        if key[0] == 2:
            raise RuntimeError("dashboard 2 broke the parser")
        return None, "ok"

    monkeypatch.setattr(evidence, "_ask", broken)
    cache = _cache([1, 2])
    with pytest.raises(RuntimeError, match="dashboard 2"):
        ask_due(cache, [((pid, 1.0), (), (9000 + pid,)) for pid in (1, 2)], now=100.0)
    assert (1, 1.0) in cache.sessions  # the others' answers are kept


def test_a_version_without_a_session_list_is_not_due(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _slow_asks(monkeypatch)
    cache = _cache([1, 2])
    for key in cache.versions:
        cache.versions[key] = "0.13.0"
    assert not facts_for("0.13.0").lists_sessions
    ask_due(cache, [((pid, 1.0), (), (9000 + pid,)) for pid in (1, 2)], now=100.0)
    assert asked == [] and cache.sessions == {}


def test_no_thread_to_be_had_asks_in_the_scans_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _slow_asks(monkeypatch)
    real_start = threading.Thread.start
    calls = {"n": 0}

    def start_once(self: threading.Thread) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_once)
    cache = _cache([1, 2, 3])
    ask_due(cache, [((pid, 1.0), (), (9000 + pid,)) for pid in (1, 2, 3)], now=100.0)
    names = dict(asked)
    assert names[1] == "hermes-top-ask"
    assert names[2] == names[3] == threading.current_thread().name
    assert set(cache.sessions) == {(1, 1.0), (2, 1.0), (3, 1.0)}  # every thread joined
