"""`hermes-top` with no command: the terminal UI over this machine's processes."""

from __future__ import annotations

import argparse

from hermes_top.core.errors import UsageError


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readonly", action="store_true", help="never send a signal or restart anything"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="refresh interval (default 2 s)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.interval > 0:
        raise UsageError(f"--interval must be a positive number of seconds, not {args.interval}")
    # Imported here so CLI subcommands never pay for Textual.
    from hermes_top.core.engine import Core
    from hermes_top.tui.app import run_app

    core = Core(readonly=args.readonly)
    try:
        run_app(core, interval_s=args.interval, readonly=args.readonly)
    finally:
        core.close()  # releases the pidfds the scans pinned
    return 0
