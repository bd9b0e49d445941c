"""Which processes an incremental tick reads again besides the watched ones.

Between ticks only new PIDs and the Hermes processes (with their ancestors) must
be read; the rest is read again a slice per tick, in PID order, so that every
process is looked at once per cycle (an old process that exec'd into a Hermes
shape, a PID reused between two ticks) and no tick pays for a whole pass.
"""

from __future__ import annotations

from collections.abc import Collection


class RoundRobin:
    """Hands out PIDs of a changing table, ``count`` at a time, each once per cycle."""

    def __init__(self) -> None:
        self._order: list[int] = []
        self._at = 0
        #: Cycles begun; a new value means every PID present at the last one was handed out.
        self.cycles = 0

    def take(self, pids: Collection[int], count: int) -> list[int]:
        """The next ``count`` PIDs still in ``pids`` (all of them when fewer)."""
        if count <= 0 or not pids:
            return []
        if count >= len(pids):
            self._order, self._at = [], 0
            self.cycles += 1
            return list(pids)
        out: list[int] = []
        while len(out) < count:
            if self._at >= len(self._order):
                self._order, self._at = sorted(pids), 0
                self.cycles += 1
            chunk = self._order[self._at : self._at + count - len(out)]
            self._at += len(chunk)
            out.extend(pid for pid in chunk if pid in pids)
        return out
