"""Command-line entry point. Each subcommand lives in hermes_top/commands/.

Heavy imports (textual, the simulator) happen inside the subcommands that need
them, so ``hermes-top list`` stays cheap on a machine that is already in trouble.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hermes_top import __version__
from hermes_top.commands import ui
from hermes_top.core.errors import HermesTopError

#: Subcommand → the module that defines it. Only the module a command needs is
#: imported: `hermes-top list` must stay cheap on a machine already in trouble.
COMMAND_MODULES = {
    "list": "procs",
    "reap": "procs",
    "status": "service",
    "restart": "service",
    "doctor": "service",
    "demo": "demo",
}


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    words = sys.argv[1:] if argv is None else list(argv)
    for word in words:
        if word in COMMAND_MODULES:
            return [COMMAND_MODULES[word]]
    return list(dict.fromkeys(COMMAND_MODULES.values()))  # help, the TUI: all of them


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hermes-top",
        description="Find, explain and safely reap leaked Hermes dashboard workers.",
        epilog="With no command, opens the terminal UI on this machine's Hermes processes.",
    )
    parser.add_argument("--version", action="version", version=f"hermes-top {__version__}")
    ui.add_ui_options(parser)
    parser.set_defaults(func=ui.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _modules_for(argv):
        importlib.import_module(f"hermes_top.commands.{name}").register(sub)
    return parser


def raise_own_fd_limit() -> None:
    """Pinning hundreds of processes takes a pidfd each: lift our soft NOFILE
    limit to the hard one (never above it), as a shell's `ulimit -n` would."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass  # keep the limit we have; a reap reports what it could not pin


def main(argv: Sequence[str] | None = None) -> int:
    raise_own_fd_limit()
    parser = build_parser(argv)
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
