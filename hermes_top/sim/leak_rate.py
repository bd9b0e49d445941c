"""A steady leak for the demo: tabs open and close every few seconds, and some
of them leak as the real bug does. Bounded, so the demo never eats a machine."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hermes_top.sim.errors import SimError

if TYPE_CHECKING:
    from hermes_top.sim.base import SimDashboard, SimTab
    from hermes_top.sim.scenario import Simulation

#: A tick adds at most this many processes (tui + entry + worker + a stale twin).
_TICK_COST = 4
#: Tabs left open with stale twins before the oldest is closed.
_MAX_OPEN_TABS = 6
#: One round of actions, shuffled.
_BAG = ("closed", "closed", "orphaned", "orphaned", "stale")


class LeakRate(threading.Thread):
    """Each tick does one action on the next dashboard, drawn from a shuffled bag
    of five (so every five ticks see each kind): two tabs closed cleanly, two
    closed leaking (tui killed: entry + worker orphaned; without node an
    orphaned worker), one whose worker restarts without closing the old one
    (stale twin, left open). Ticks that would exceed ``max_processes`` are
    skipped, so the leak resumes once someone reaps."""

    def __init__(
        self,
        sim: Simulation,
        dashboards: Sequence[SimDashboard],
        interval_s: float,
        max_processes: int,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__(name="hermes-sim-leak-rate", daemon=True)
        self.sim = sim
        self.dashboards = list(dashboards)
        self.interval_s = interval_s
        self.max_processes = max_processes
        self.rng = random.Random(seed)
        self.ticks = 0
        self.errors = 0
        self.last_error: str | None = None
        self.actions: Counter[str] = Counter()
        self._open_tabs: list[SimTab] = []
        self._bag: list[str] = []
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=self.sim.request_timeout + self.interval_s + 5)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                self.tick()
            except Exception as err:  # keep leaking; the demo shows the count
                self.errors += 1
                self.last_error = f"{type(err).__name__}: {err}"

    def tick(self) -> None:
        self.ticks += 1
        live = [d for d in self.dashboards if self.sim.is_present(d.pid)]
        if not live:
            return
        if len(self.sim.pids()) + _TICK_COST > self.max_processes:
            self.actions["skipped"] += 1
            return
        d = live[self.ticks % len(live)]
        if not self._bag:
            self._bag = list(_BAG)
            self.rng.shuffle(self._bag)
        action = self._bag.pop()
        if action == "orphaned" and not self.sim.has_node:
            self.sim.orphan_worker(d)
            self.actions[action] += 1
            return
        tab = self.sim.open_tab(d)
        if action == "closed":
            self.sim.close_tab_cleanly(tab)
            self.actions[action] += 1
        elif action == "orphaned":
            self.sim.close_tab_leaking(tab)
            self.actions[action] += 1
        else:
            self.sim.restart_worker(tab, close_old=False)
            self.actions["stale"] += 1
            self._open_tabs.append(tab)
            if len(self._open_tabs) > _MAX_OPEN_TABS:
                old = self._open_tabs.pop(0)
                try:
                    self.sim.close_tab_cleanly(old)
                except SimError:
                    pass  # its dashboard may be gone
