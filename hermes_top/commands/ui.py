"""`hermes-top` with no command: the terminal UI over this machine's processes."""

from __future__ import annotations

import argparse
import math
import sys

from hermes_top.core.errors import UsageError

#: Bounds of the refresh interval, in seconds.
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.1, 3600.0


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    """The global options. SUPPRESS: whether one was given is checked per command
    (cli.apply_globals), and a subcommand's own copy must not reset it."""
    parser.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="never send a signal or restart anything",
    )
    parser.add_argument(
        "--all-users",
        action="store_true",
        default=argparse.SUPPRESS,
        help="allow signalling other users' Hermes processes (shown either way)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=argparse.SUPPRESS,
        metavar="S",
        help="refresh interval (default 2 s)",
    )


def check_interval(interval: float) -> None:
    if not (math.isfinite(interval) and MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S):
        raise UsageError(
            f"--interval must be from {MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g} seconds"
        )


def require_terminal(what: str) -> None:
    """The TUI on a pipe would hang waiting for keys no one can type."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            f"{what} needs a terminal; for scripts use `hermes-top list` (or `list --json`)"
        )


def run(args: argparse.Namespace) -> int:
    check_interval(args.interval)
    require_terminal("the terminal UI")
    # Imported here so CLI subcommands never pay for Textual. The first scan starts
    # before Textual is imported, so the two overlap (first paint comes sooner).
    from hermes_top.commands.wiring import make_core
    from hermes_top.tui.first_scan import scan_in_background

    core = make_core(readonly=args.readonly, allow_other_users=args.all_users, incremental=True)
    first = scan_in_background(core)
    from hermes_top.tui.app import run_app

    try:
        run_app(core, interval_s=args.interval, readonly=args.readonly, first_scan=first)
    finally:
        core.close()  # releases the pidfds the scans pinned
    return 0
