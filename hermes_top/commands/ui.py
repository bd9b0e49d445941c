"""`hermes-top` with no command: the terminal UI over this machine's processes."""

from __future__ import annotations

import argparse
import math

from hermes_top.core.errors import UsageError


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readonly", action="store_true", help="never send a signal or restart anything"
    )
    parser.add_argument(
        "--all-users",
        action="store_true",
        help="allow signalling other users' Hermes processes (shown either way)",
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="refresh interval (default 2 s)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.interval > 0:
        raise UsageError(f"--interval must be a positive number of seconds, not {args.interval}")
    if not math.isfinite(args.interval):
        raise UsageError("--interval must be a finite number of seconds")
    # Imported here so CLI subcommands never pay for Textual. The first scan starts
    # before Textual is imported, so the two overlap (first paint comes sooner).
    from hermes_top.core.engine import Core
    from hermes_top.tui.first_scan import scan_in_background

    core = Core(readonly=args.readonly, allow_other_users=args.all_users)
    first = scan_in_background(core)
    from hermes_top.tui.app import run_app

    try:
        run_app(core, interval_s=args.interval, readonly=args.readonly, first_scan=first)
    finally:
        core.close()  # releases the pidfds the scans pinned
    return 0
