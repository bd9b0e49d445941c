"""Which of a live dashboard's workers no longer serve a session (``abandoned``),
and which it keeps on purpose for a closed tab (``parked``).

Pure: it reads the verdicts ``classify`` made and the evidence gathered per
dashboard (core/evidence.py), and says for each judged worker what proves it.
Only the dashboard's own children are judged (the leak the seed issue has:
they sit under a live dashboard, with unique keys, looking live).

- 0.15+: a worker whose session the dashboard does not list is abandoned
  (high confidence); state.db's end of the session corroborates.
- Without a list (0.13, 0.14): an open tab has a live node under the
  dashboard that started just before its worker; a worker no tab's node
  claims is abandoned. High confidence only when the open browser connections
  count the same tabs; otherwise low (shown, reaped only by --pid).
- 0.18.2+ keeps a closed tab's node and worker alive for 30 minutes by design:
  with no browser connected, those are parked (with the time left), not leaks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from hermes_top.core.evidence import DashboardEvidence
from hermes_top.core.judge_clock import JudgeClock
from hermes_top.core.model import Confidence, Role, State
from hermes_top.core.rules import ABANDON_MIN_AGE_S, TAB_WORKER_WINDOW_S
from hermes_top.core.verdict import Candidate, Verdict


def judge(
    found: Mapping[int, Candidate],
    verdicts: dict[int, Verdict],
    evidence: Mapping[int, DashboardEvidence],
    clock: JudgeClock,
) -> None:
    children: dict[int, list[Candidate]] = {}
    for c in found.values():
        if c.raw.ppid in evidence:
            children.setdefault(c.raw.ppid, []).append(c)
    for dash, ev in evidence.items():
        kids = sorted(children.get(dash, ()), key=lambda c: c.raw.create_time)
        workers = [
            c
            for c in kids
            if c.role is Role.SLASH_WORKER and verdicts[c.raw.pid].state is State.LIVE
        ]
        tabs = [c for c in kids if c.role is Role.TUI and c.raw.status != "Z"]
        if ev.sessions is not None:
            _by_session_list(workers, tabs, verdicts, ev, dash, clock)
        elif not ev.facts.lists_sessions:
            _by_tabs(workers, tabs, verdicts, ev, dash, clock)
        else:
            _by_state_db(workers, verdicts, ev, dash, clock)


def _old_enough(cand: Candidate, clock: JudgeClock) -> bool:
    return clock.elapsed(cand.raw.create_time, ABANDON_MIN_AGE_S)


def _abandon(
    verdicts: dict[int, Verdict],
    cand: Candidate,
    reason: str,
    evidence: list[str],
    confidence: Confidence,
    ev: DashboardEvidence,
    clock: JudgeClock,
) -> None:
    key = cand.match.session_key
    end = ev.ended.get(key) if key else None
    if end is not None:
        evidence.append(f"state.db: session ended {clock.ago(end.ended_at)} ago ({end.reason})")
        confidence = Confidence.HIGH
    if ev.version:
        evidence.append(f"dashboard runs hermes-agent {ev.version}")
    verdicts[cand.raw.pid] = replace(
        verdicts[cand.raw.pid],
        state=State.ABANDONED,
        reason=reason,
        evidence=tuple(evidence),
        confidence=confidence,
    )


def _by_session_list(
    workers: Sequence[Candidate],
    tabs: Sequence[Candidate],
    verdicts: dict[int, Verdict],
    ev: DashboardEvidence,
    dash: int,
    clock: JudgeClock,
) -> None:
    assert ev.sessions is not None
    parking = ev.facts.keepalive_s is not None and ev.browser_connections == 0
    for cand in workers:
        key = cand.match.session_key
        row = ev.sessions.get(key) if key else None
        if row is None:
            if _old_enough(cand, clock):
                _abandon(
                    verdicts,
                    cand,
                    f"dashboard {dash} no longer lists its session {key}",
                    [f"session {key} is not in the dashboard's list ({ev.sessions_note})"],
                    Confidence.HIGH,
                    ev,
                    clock,
                )
            continue
        if parking:
            assert ev.facts.keepalive_s is not None
            left = ""
            if row.last_active is not None:
                left = clock.keepalive_left(ev.facts.keepalive_s, row.last_active)
            _park(verdicts, cand, f"kept for a closed tab (keep-alive){left}", row.status, dash)
        else:
            v = verdicts[cand.raw.pid]
            listed = (f"listed by dashboard {dash} ({row.status})",)
            verdicts[cand.raw.pid] = replace(v, evidence=listed)
    if parking:
        for tab in tabs:
            _park(verdicts, tab, "kept for a closed tab (keep-alive)", None, dash)


def _park(
    verdicts: dict[int, Verdict], cand: Candidate, reason: str, status: str | None, dash: int
) -> None:
    evidence = [f"no browser is connected to dashboard {dash}"]
    if status:
        evidence.insert(0, f"listed by the dashboard ({status})")
    verdicts[cand.raw.pid] = replace(
        verdicts[cand.raw.pid], state=State.PARKED, reason=reason, evidence=tuple(evidence)
    )


def _by_tabs(
    workers: Sequence[Candidate],
    tabs: Sequence[Candidate],
    verdicts: dict[int, Verdict],
    ev: DashboardEvidence,
    dash: int,
    clock: JudgeClock,
) -> None:
    """No session list: each open tab's node claims the worker it started."""
    claimed: set[int] = set()
    per_tab = ev.facts.browser_connections_per_tab
    conns = ev.browser_connections
    corroborated = conns is not None and conns == len(tabs) * per_tab
    for cand in workers:
        start = cand.raw.create_time
        owners = [
            t
            for t in tabs
            if t.raw.pid not in claimed and 0 <= start - t.raw.create_time <= TAB_WORKER_WINDOW_S
        ]
        if owners:
            claimed.add(owners[-1].raw.pid)  # the latest tab that opened before it
            continue
        if not _old_enough(cand, clock):
            continue
        evidence = [
            f"no open tab's node started within {TAB_WORKER_WINDOW_S:g} s before it "
            f"({len(tabs)} tab(s) open)",
            f"{ev.sessions_note}",
        ]
        if conns is not None:
            evidence.append(f"{conns} browser connection(s) = {conns / per_tab:g} open tab(s)")
        _abandon(
            verdicts,
            cand,
            f"no open tab of dashboard {dash} owns it",
            evidence,
            Confidence.HIGH if corroborated else Confidence.LOW,
            ev,
            clock,
        )


def _by_state_db(
    workers: Sequence[Candidate],
    verdicts: dict[int, Verdict],
    ev: DashboardEvidence,
    dash: int,
    clock: JudgeClock,
) -> None:
    """A list was expected but not had: only the dashboard's own record of an end counts."""
    for cand in workers:
        key = cand.match.session_key
        if key and key in ev.ended and _old_enough(cand, clock):
            _abandon(
                verdicts,
                cand,
                f"dashboard {dash} recorded its session {key} as ended",
                [ev.sessions_note],
                Confidence.HIGH,
                ev,
                clock,
            )
