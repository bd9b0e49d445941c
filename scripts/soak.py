"""Churn soak for `hermes-top guard` (`make soak`; not part of the unit suite).

Two simulated dashboards; tabs open, close cleanly, leak (tui killed: entry and
worker orphaned), get stale twins, and now and then a dashboard is killed and
replaced — for ``--minutes`` (default 10). A real `hermes-top guard` process
runs all along, scoped to the simulation (HERMES_TOP_SCOPE_ROOT), its journal in
a temp dir. Every leak is written down *before* it is made.

Afterwards every signal the guard journalled is checked against that ledger:
a signal is right only if its PID was one this soak leaked, at or before the
signal's time, in the same lifetime of that PID; anything else — a live
worker, a stale twin (the guard does not reap stale), a dashboard, a process
not ours — is wrong. Exit 1 on any wrong signal, if the guard died, or if it
reaped nothing; 0 otherwise. Prints the figures.

    python scripts/soak.py --minutes 2
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hermes_top.core.journal import read_journal  # noqa: E402
from hermes_top.sim import Simulation  # noqa: E402
from hermes_top.sim.base import SimDashboard, SimTab, tab_pids  # noqa: E402
from hermes_top.sim.errors import SimError  # noqa: E402
from hermes_top.sim.tracking import process_start  # noqa: E402

#: Open tabs per dashboard before the oldest is closed.
MAX_OPEN = 6
#: Processes the simulation may hold before leaking pauses (the guard catches up).
MAX_PROCESSES = 120


@dataclass
class Life:
    """One lifetime of a PID the soak started."""

    pid: int
    start: float | None
    role: str
    born: float
    #: When the soak began to leak it (None: never leaked by the soak).
    leaked: float | None = None
    #: When it was made a stale twin (the guard must not reap those).
    stale: float | None = None
    #: When a clean close of its tab began.
    closing: float | None = None


@dataclass
class Ledger:
    lives: dict[int, list[Life]] = field(default_factory=dict)
    actions: Counter[str] = field(default_factory=Counter)

    def born(self, sim: Simulation, pids: list[int]) -> None:
        roles = sim.roles()
        now = time.time()
        for pid in pids:
            lives = self.lives.setdefault(pid, [])
            start = process_start(pid)
            if lives and lives[-1].start == start:
                continue
            lives.append(Life(pid, start, roles.get(pid, "?"), now))

    def mark(self, pids: list[int], what: str) -> None:
        now = time.time()
        for pid in pids:
            lives = self.lives.get(pid)
            if lives and getattr(lives[-1], what) is None:
                setattr(lives[-1], what, now)

    def life_at(self, pid: int, t: float) -> Life | None:
        found = [life for life in self.lives.get(pid, []) if life.born <= t + 0.5]
        return found[-1] if found else None


def start_guard(
    sim: Simulation, state: Path, log: Path, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        HERMES_TOP_STATE_DIR=str(state),
        HERMES_TOP_SCOPE_ROOT=str(sim.root),
        PYTHONPATH=str(REPO),
    )
    argv = [
        sys.executable, "-m", "hermes_top", "guard",
        "--interval", f"{args.interval:g}", "--min-age", f"{args.min_age:g}",
        "--grace", "1", "--no-notify",
    ]  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def churn_step(
    sim: Simulation, ledger: Ledger, open_tabs: dict[int, list[SimTab]], rng: random.Random
) -> None:
    live = [d for d in sim.dashboards if sim.is_present(d.pid)]
    d = rng.choice(live)
    tabs = open_tabs.setdefault(d.pid, [])
    crowded = len(sim.pids()) > MAX_PROCESSES
    roll = rng.random()
    if roll < 0.40 or not tabs:
        if crowded:
            ledger.actions["paused (crowded)"] += 1
            return
        tab = sim.open_tab(d)
        ledger.born(sim, tab_pids(tab))
        tabs.append(tab)
        ledger.actions["opened"] += 1
        if len(tabs) > MAX_OPEN:
            close(sim, ledger, tabs.pop(0))
        return
    tab = tabs.pop(rng.randrange(len(tabs)))
    if roll < 0.65:
        close(sim, ledger, tab)
    elif roll < 0.90 and tab.path == "spawn":
        head = tab.tui_pid
        # Written down before it is made: the guard may see it the next instant.
        ledger.mark([p for p in tab_pids(tab) if p != head], "leaked")
        sim.close_tab_leaking(tab)
        ledger.actions["leaked (tui killed)"] += 1
    else:
        old = list(tab.worker_pids)
        ledger.mark(old, "stale")
        new = sim.restart_worker(tab, close_old=False)
        ledger.born(sim, [new])
        tabs.append(tab)
        ledger.actions["stale twin"] += 1


def close(sim: Simulation, ledger: Ledger, tab: SimTab) -> None:
    ledger.mark(tab_pids(tab), "closing")
    try:
        sim.close_tab_cleanly(tab)
        ledger.actions["closed cleanly"] += 1
    except SimError:
        ledger.actions["close failed"] += 1


def kill_and_replace(
    sim: Simulation, ledger: Ledger, open_tabs: dict[int, list[SimTab]], port: list[int]
) -> SimDashboard:
    victim = sim.dashboards[-1] if sim.is_present(sim.dashboards[-1].pid) else sim.dashboards[0]
    below = [
        p
        for t in sim.tabs
        if t.dashboard_pid == victim.pid and t.state == "open"
        for p in tab_pids(t)
    ]
    stale = [p for p in below if (lives := ledger.lives.get(p)) and lives[-1].stale is not None]
    ledger.mark([p for p in below if p not in stale], "leaked")
    ledger.mark(stale, "leaked")  # once its host is gone a stale twin is an orphan
    sim.kill_dashboard(victim)
    open_tabs.pop(victim.pid, None)
    ledger.actions["dashboard killed"] += 1
    port[0] += 1
    new = sim.start_dashboard(port=port[0])
    ledger.born(sim, [new.pid])
    return new


def judge(ledger: Ledger, journal: Path) -> tuple[Counter[str], list[str], Counter[str]]:
    verdicts: Counter[str] = Counter()
    wrong: list[str] = []
    outcomes: Counter[str] = Counter()
    records = read_journal(journal) if journal.exists() else []
    for r in records:
        if r.get("event") == "outcome":
            outcomes[str(r.get("outcome"))] += 1
        if r.get("event") != "signal":
            continue
        pid, t = int(r["pid"]), float(r["time"])
        life = ledger.life_at(pid, t)
        what = f"{r.get('signal')} to {pid} ({r.get('role')}, {r.get('state')}) at {t:.3f}"
        if life is None:
            verdicts["not ours"] += 1
            wrong.append(f"{what}: not a process this soak started")
        elif life.leaked is not None and life.leaked <= t:
            verdicts["leaked"] += 1
        elif life.stale is not None and life.stale <= t:
            verdicts["stale"] += 1
            wrong.append(f"{what}: a stale twin (its host alive); the guard does not reap stale")
        elif life.closing is not None and life.closing <= t:
            verdicts["closing"] += 1
            wrong.append(f"{what}: its tab was being closed cleanly, not leaked")
        else:
            verdicts["live"] += 1
            wrong.append(f"{what}: LIVE (born {life.born:.3f}, never leaked)")
    return verdicts, wrong, outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=2.0, help="guard --interval (2 s)")
    parser.add_argument("--min-age", type=float, default=5.0, help="guard --min-age (5 s)")
    parser.add_argument("--step", type=float, default=0.5, help="seconds between churn steps")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("soak: the simulator's checks need Linux /proc", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="hermes-top-soak-"))
    state, log = work / "state", work / "guard.log"
    ledger = Ledger()
    open_tabs: dict[int, list[SimTab]] = {}
    guard: subprocess.Popen[bytes] | None = None
    guard_died = False
    started = time.monotonic()
    with Simulation(fd_soft_limit=4096) as sim:
        port = [9600]
        for _ in range(2):
            port[0] += 1
            ledger.born(sim, [sim.start_dashboard(port=port[0]).pid])
        guard = start_guard(sim, state, log, args)

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            end = started + args.minutes * 60
            # A dashboard dies (its tabs leak at once) every 150 s, the first one by
            # half-time even in a short run.
            next_kill = started + min(150.0, args.minutes * 30)
            while time.monotonic() < end:
                if guard.poll() is not None:
                    guard_died = True
                    break
                try:
                    if time.monotonic() >= next_kill:
                        kill_and_replace(sim, ledger, open_tabs, port)
                        next_kill += 150
                    else:
                        churn_step(sim, ledger, open_tabs, rng)
                except SimError as err:
                    ledger.actions[f"sim error: {type(err).__name__}"] += 1
                time.sleep(args.step)
            # Let the guard reap what leaked last.
            settle = time.monotonic() + args.min_age + 3 * args.interval + 5
            while time.monotonic() < settle and guard.poll() is None:
                time.sleep(0.5)
            left = Counter(sim.expected_states().values())
        finally:
            if guard.poll() is None:
                guard.send_signal(signal.SIGTERM)
                try:
                    guard.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    guard.kill()
                    guard.wait()
            else:
                guard_died = True
    elapsed = time.monotonic() - started
    verdicts, wrong, outcomes = judge(ledger, state / "signals.jsonl")
    text = log.read_text(errors="replace")
    ticks_failed = text.count("tick failed") + text.count("tick error")
    leaked = sum(1 for lives in ledger.lives.values() for life in lives if life.leaked)
    live_old = sum(
        1
        for lives in ledger.lives.values()
        for life in lives
        if life.leaked is None and life.role != "dashboard"
    )
    print(
        f"soak: {elapsed / 60:.1f} min, seed {seed}, guard every {args.interval:g} s, "
        f"min-age {args.min_age:g} s; work dir {work}"
    )
    print("  churn: " + ", ".join(f"{n} {k}" for k, n in sorted(ledger.actions.items())))
    print(
        f"  processes started: {sum(len(v) for v in ledger.lives.values())}; leaked by the "
        f"soak: {leaked}; never leaked (workers, tuis, entries): {live_old}"
    )
    print(
        "  guard signals by verdict: "
        + (", ".join(f"{n} {k}" for k, n in sorted(verdicts.items())) or "none")
    )
    print(
        "  guard reap outcomes: "
        + (", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "none")
    )
    print(f"  at the end, expected states present: {dict(left)}")
    print(
        f"  guard log: {text.count(chr(10))} lines, {ticks_failed} failed tick(s); "
        f"exit {'died early' if guard_died else guard.returncode if guard else '?'}"
    )
    for line in wrong[:20]:
        print(f"  WRONG: {line}")
    if wrong:
        print(f"soak: FAILED: {len(wrong)} wrong signal(s)")
        return 1
    if guard_died:
        print("soak: FAILED: the guard died (see its log)")
        return 1
    if not verdicts.get("leaked"):
        print("soak: FAILED: the guard reaped nothing")
        return 1
    print("soak: ok: every signal went to a process the soak had leaked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
