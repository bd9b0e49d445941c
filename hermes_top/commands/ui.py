"""`hermes-top` with no command: the terminal UI over this machine's processes."""

from __future__ import annotations

import argparse


def add_ui_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--readonly", action="store_true", help="never send a signal or restart anything"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="refresh interval (default 2 s)"
    )


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("the TUI lands with issue 4")
