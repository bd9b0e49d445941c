"""The scenario ``hermes-top demo`` (and the screenshots) start: two dashboards,
live tabs on both paths, a few leaks of every kind, one dashboard near its FD
limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_top.sim.base import SimDashboard
from hermes_top.sim.errors import SimUnsupported
from hermes_top.sim.scenario import Simulation

#: The near-limit dashboard is filled to this share of its soft FD limit.
NEAR_LIMIT_RATIO = 0.85


@dataclass
class DemoScenario:
    #: Soft limit 256 (launchd's default), filled to 85 %.
    near_limit: SimDashboard
    #: A roomy dashboard (soft limit 1024).
    roomy: SimDashboard
    #: Leak modes this machine cannot show (no node, not root), one line each.
    skipped: list[str] = field(default_factory=list)


def build_demo(sim: Simulation) -> DemoScenario:
    near = sim.start_dashboard(9119, fd_soft_limit=256)
    roomy = sim.start_dashboard(9120, fd_soft_limit=1024)
    scenario = DemoScenario(near, roomy)
    if not sim.has_node:
        scenario.skipped.append("node is not on PATH: only attach-path tabs are simulated")

    # Live tabs, both paths, on both dashboards.
    for d in (near, roomy):
        sim.open_tab(d)
        sim.open_tab(d, "attach", model="dummy-model")

    # Orphans: tabs whose tui was killed (entry + worker left behind).
    for _ in range(2):
        if sim.has_node:
            sim.close_tab_leaking(sim.open_tab(near, "spawn"))
        else:
            sim.orphan_worker(near)
    # A stubborn orphan: ignores SIGTERM, so reaping it needs SIGKILL.
    if sim.has_node:
        sim.close_tab_leaking(sim.open_tab(roomy, "spawn", ignore_term=True))
    else:
        sim.orphan_worker(roomy, ignore_term=True)
    # Stale twins: workers restarted without closing the old one.
    sim.restart_worker(sim.open_tab(near, "attach"), close_old=False)
    sim.restart_worker(sim.open_tab(roomy), close_old=False)
    sim.zombie_tui(near)
    sim.orphan_stopped_worker(roomy)
    try:
        sim.other_user_orphan(roomy)
    except SimUnsupported as err:
        scenario.skipped.append(str(err))

    sim.fill_fds_to(near, NEAR_LIMIT_RATIO)
    return scenario
