"""The time a classification is judged at, and every question it asked of it.

Verdicts depend on the clock in few places: is a worker old enough to be
judged, "session ended 5 min ago", "~12 min left" of a keep-alive. Each is
asked through a JudgeClock, which keeps the question and its answer. Judged
at another time, a classification of equal inputs comes out the same exactly
when every question it asked gets the same answer then: core/scan.py reuses
last tick's verdicts on that test (``same_answers_at``), so a verdict never
lags the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


def duration(seconds: float) -> str:
    """``42 s``, ``5 min``, ``1.5 h`` (negative reads as 0)."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class JudgeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self._asked: list[tuple[Callable[[float], object], object]] = []

    def _ask(self, question: Callable[[float], _T]) -> _T:
        answer = question(self.now)
        self._asked.append((question, answer))
        return answer

    def elapsed(self, since: float, seconds: float) -> bool:
        """Whether at least ``seconds`` have passed since ``since``."""
        return self._ask(lambda now: now - since >= seconds)

    def ago(self, since: float) -> str:
        """How long ago ``since`` was, as ``duration`` words it."""
        return self._ask(lambda now: duration(now - since))

    def keepalive_left(self, keepalive_s: float, last_active: float) -> str:
        """``: ~5 min left`` of a keep-alive, or ``: past its keep-alive``."""

        def left(now: float) -> str:
            rest = keepalive_s - (now - last_active)
            return f": ~{duration(rest)} left" if rest > 0 else ": past its keep-alive"

        return self._ask(left)

    def same_answers_at(self, now: float) -> bool:
        """Whether every question asked so far gets the same answer at ``now``."""
        return all(question(now) == answer for question, answer in self._asked)
