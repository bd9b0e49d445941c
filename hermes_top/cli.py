"""Command-line entry point. Each subcommand lives in hermes_top/commands/.

Heavy imports (textual, the simulator) happen inside the subcommands that need
them, so ``hermes-top list`` stays cheap on a machine that is already in trouble.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hermes_top import __version__
from hermes_top.commands import demo, procs, service, ui
from hermes_top.core.errors import HermesTopError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hermes-top",
        description="Find, explain and safely reap leaked Hermes dashboard workers.",
        epilog="With no command, opens the terminal UI on this machine's Hermes processes.",
    )
    parser.add_argument("--version", action="version", version=f"hermes-top {__version__}")
    ui.add_ui_options(parser)
    parser.set_defaults(func=ui.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    procs.register(sub)
    service.register(sub)
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except HermesTopError as err:
        print(f"hermes-top: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hermes-top: interrupted", file=sys.stderr)
        return 130
    return code
