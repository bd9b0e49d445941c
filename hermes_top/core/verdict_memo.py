"""Last tick's classification, reused while nothing it was judged from changed.

``classify`` is a pure function of: each found process (its table entry but
its CPU time, its argv and what the rules made of it), the entries of each
one's ancestors and of its parent, whether the PID each watchdog watches is in
the table, the hidden PIDs, each dashboard's evidence, and the clock. The key
holds all of them but the clock, by value (equal inputs, equal verdicts); the
clock's part is checked by asking last time's questions again
(core/judge_clock.py). Only the TUI's incremental ticks use it: a CLI scan and
the scan a plan is made from classify from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hermes_top.core.classify import classify
from hermes_top.core.evidence import DashboardEvidence
from hermes_top.core.judge_clock import JudgeClock
from hermes_top.core.model import SessionInfo
from hermes_top.core.procfs import RawProc
from hermes_top.core.verdict import Candidate, Verdict

#: The RawProc fields classification may read: every one but ``cpu_s`` (the
#: last), which ticks for a busy process and decides nothing.
_JUDGED_FIELDS = len(RawProc._fields) - 1
assert RawProc._fields[_JUDGED_FIELDS] == "cpu_s"

Classification = tuple[dict[int, Verdict], dict[int, tuple[SessionInfo, ...]]]


def classify_key(
    procs: Mapping[int, RawProc],
    found: Mapping[int, Candidate],
    hidden: frozenset[int],
    evidence: Mapping[int, DashboardEvidence],
    chains: Mapping[int, list[RawProc]],
) -> tuple[object, ...]:
    """Everything ``classify`` reads but the clock (see the module's docstring)."""
    n = _JUDGED_FIELDS
    cands = tuple((pid, c.raw[:n], c.argv, c.match) for pid, c in found.items())
    lines = tuple(tuple(a[:n] for a in chains[pid]) for pid in found)
    parents = tuple(None if (p := procs.get(c.raw.ppid)) is None else p[:n] for c in found.values())
    watched = tuple(w in procs for c in found.values() if (w := c.match.watches) is not None)
    return cands, lines, parents, watched, hidden, tuple(evidence.items())


@dataclass
class VerdictMemo:
    key: tuple[object, ...] | None = None
    clock: JudgeClock | None = None
    result: Classification | None = None
    #: Classifications reused and made (what the benchmarks and tests read).
    hits: int = 0
    misses: int = 0

    def classify(
        self,
        procs: Mapping[int, RawProc],
        found: Mapping[int, Candidate],
        hidden: frozenset[int],
        evidence: Mapping[int, DashboardEvidence],
        now: float,
        chains: Mapping[int, list[RawProc]],
    ) -> Classification:
        """``classify(...)``: last time's result when it would come out the same."""
        key = classify_key(procs, found, hidden, evidence, chains)
        if (
            self.result is not None
            and self.clock is not None
            and key == self.key
            and self.clock.same_answers_at(now)
        ):
            self.hits += 1
            return self.result
        clock = JudgeClock(now)
        result = classify(procs, found, hidden, evidence, now, chains, clock)
        self.key, self.clock, self.result = key, clock, result
        self.misses += 1
        return result
