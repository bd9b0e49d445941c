"""`hermes-top demo`: a leaking simulated Hermes dashboard, and the TUI on it.

Everything the demo starts lives in a throwaway temp dir and is killed and
reaped when the demo ends (quit, Ctrl-C, SIGTERM or SIGHUP).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from hermes_top.commands.ui import check_interval, require_terminal
from hermes_top.core.errors import HermesTopError, UsageError

if TYPE_CHECKING:
    from hermes_top.core.engine import Core
    from hermes_top.sim import Simulation

MAX_LEAK_INTERVAL_S = 3600.0
MAX_DEMO_PROCESSES = 2000


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="run a simulated leaking Hermes dashboard and open hermes-top on it",
        description="Starts real processes shaped like a leaking Hermes dashboard (in a temp "
        "dir), opens the TUI on them only, and removes everything on quit.",
    )
    p.add_argument(
        "--leak-interval",
        type=float,
        default=3.0,
        metavar="S",
        help="open (and maybe leak) a tab every S seconds (default 3)",
    )
    p.add_argument(
        "--max-processes",
        type=int,
        default=60,
        metavar="N",
        help="never let the simulation hold more than N processes (default 60)",
    )
    p.add_argument(
        "--no-ui", action="store_true", help="print the process tree every 2 s until Ctrl-C"
    )
    # SUPPRESS: `hermes-top --readonly demo` must not be reset by this parser's default.
    p.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="never send a signal or restart anything",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.leak_interval <= 0:
        raise UsageError("--leak-interval must be greater than 0")
    if not math.isfinite(args.leak_interval) or args.leak_interval > MAX_LEAK_INTERVAL_S:
        raise UsageError(f"--leak-interval must be at most {MAX_LEAK_INTERVAL_S:g} seconds")
    if not 20 <= args.max_processes <= MAX_DEMO_PROCESSES:
        raise UsageError(
            f"--max-processes must be from 20 (the initial scenario needs them) "
            f"to {MAX_DEMO_PROCESSES}"
        )
    check_interval(float(getattr(args, "interval", 2.0)))
    if not args.no_ui:
        require_terminal("the demo's terminal UI (or `hermes-top demo --no-ui`)")
    from hermes_top.sim import SimError, Simulation
    from hermes_top.sim.demo_load import build_demo

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in stop_signals}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    sim: Simulation | None = None
    try:
        print("hermes-top demo: starting the simulated dashboards ...", file=sys.stderr)
        sim = Simulation(fd_soft_limit=256)
        scenario = build_demo(sim)
        for line in scenario.skipped:
            print(f"hermes-top demo: {line}", file=sys.stderr)
        sim.start_leak_rate(interval_s=args.leak_interval, max_processes=args.max_processes)
        open_ui(sim, args)
    except SimError as err:
        raise HermesTopError(f"demo: {err}") from err
    except KeyboardInterrupt:
        pass  # Ctrl-C, SIGTERM or SIGHUP: clean up below
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        for sig in stop_signals:
            signal.signal(sig, signal.SIG_IGN)
        try:
            if sim is not None:
                print("hermes-top demo: cleaning up ...", file=sys.stderr)
                sim.close()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def open_ui(sim: Simulation, args: argparse.Namespace) -> None:
    """The TUI over the simulation's processes only; the printed tree without it."""
    readonly = bool(getattr(args, "readonly", False))
    interval = float(getattr(args, "interval", 2.0))
    if not args.no_ui:
        # Checked before the simulation starts (see run): here it is only a guard.
        require_terminal("the demo's terminal UI (or `hermes-top demo --no-ui`)")
        try:
            from hermes_top.commands.wiring import make_core
            from hermes_top.tui.app import run_app
        except ImportError as err:
            print(f"hermes-top demo: no TUI ({err}); printing the tree", file=sys.stderr)
        else:
            # The real supervisor: the simulated dashboards were started by hand
            # (by this demo), so recovering one relaunches it for real.
            core = make_core(
                scope=lambda p: sim.in_scope(p.identity.cmdline, p.pid),
                readonly=readonly,
                allow_other_users=bool(getattr(args, "all_users", False)),
                incremental=True,
            )
            try:
                run_app(core, interval_s=interval, readonly=readonly, title="hermes-top demo")
            finally:
                core.close()
            return
    print_tree_until_interrupted(sim, interval_s=2.0)


def listing_core(sim: Simulation) -> Core:
    """A Core that sees only the simulation's processes and only reads: readonly,
    and no pidfds pinned (pin=False), as for `hermes-top list`."""
    from hermes_top.core.engine import Core

    return Core(scope=lambda p: sim.in_scope(p.identity.cmdline, p.pid), readonly=True, pin=False)


def print_tree_until_interrupted(sim: Simulation, interval_s: float) -> None:
    """What `hermes-top list` prints, scoped to the simulation, every ``interval_s``."""
    from hermes_top.commands.procs import render_text

    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    core = listing_core(sim)  # one Core for the whole run: warm caches, like the TUI's
    try:
        while True:
            text = render_text(core.scan())
            print(f"{clear}hermes-top demo ({sim.root}) - Ctrl-C to quit\n{leak_status(sim)}")
            print(text, flush=True)
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return
    finally:
        core.close()


def leak_status(sim: Simulation) -> str:
    """One line: what the leak rate has done so far (empty when it is not running)."""
    rate = sim.leak_rate
    if rate is None:
        return ""
    acts = ", ".join(f"{k} {v}" for k, v in sorted(rate.actions.items()))
    status = f"leak rate: {rate.ticks} ticks ({acts}); errors {rate.errors}"
    if rate.last_error:
        status += f"; last: {rate.last_error}"
    return status
