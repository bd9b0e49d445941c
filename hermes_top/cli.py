"""Command-line entry point. Each subcommand lives in hermes_top/commands/.

Heavy imports (textual, the simulator) happen inside the subcommands that need
them, so ``hermes-top list`` stays cheap on a machine that is already in trouble.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from hermes_top import __version__
from hermes_top.commands import ui
from hermes_top.core.errors import HermesTopError, UsageError
from hermes_top.core.escape import escape_control

#: Subcommand → the module that defines it. Only the module a command needs is
#: imported: `hermes-top list` must stay cheap on a machine already in trouble.
COMMAND_MODULES = {
    "list": "procs",
    "reap": "procs",
    "status": "service",
    "restart": "service",
    "doctor": "service",
    "recover": "recover",
    "demo": "demo",
    "guard": "guard",
    "metrics": "metrics",
    "completion": "completion",
}


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    """The command modules this command line needs: its command's, all of them
    for --help, none for the TUI (see build_parser)."""
    words = sys.argv[1:] if argv is None else list(argv)
    for word in words:
        if word in COMMAND_MODULES:
            return [COMMAND_MODULES[word]]
    if any(word in ("-h", "--help") for word in words):
        return list(dict.fromkeys(COMMAND_MODULES.values()))
    return []


#: Global options (before the command) and their defaults. Each command either
#: honours a global option or rejects it: none is silently ignored.
GLOBAL_DEFAULTS: dict[str, Any] = {"readonly": False, "all_users": False, "interval": 2.0}
GLOBALS_ACCEPTED: dict[str | None, frozenset[str]] = {
    None: frozenset({"readonly", "all_users", "interval"}),  # the TUI
    "demo": frozenset({"readonly", "all_users", "interval"}),
    "list": frozenset({"readonly", "all_users"}),  # read-only; lists every user anyway
    "reap": frozenset({"readonly", "all_users"}),
    "status": frozenset({"readonly"}),
    "restart": frozenset({"readonly"}),
    "doctor": frozenset({"readonly"}),
    "recover": frozenset({"readonly", "all_users"}),
    # --readonly: warn only; --interval: seconds between ticks (its own default).
    "guard": frozenset({"readonly", "all_users", "interval"}),
    "metrics": frozenset({"readonly"}),  # read-only anyway
    "completion": frozenset(),
}
#: A command's own default for a global option it honours differently.
COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {"guard": {"interval": 30.0}}
#: What --readonly refuses: the commands (and their modes) that change something.
WRITES: dict[str, Callable[[argparse.Namespace], bool]] = {
    "reap": lambda args: not args.dry_run,
    "restart": lambda args: True,
    "doctor": lambda args: bool(args.fix),
    "recover": lambda args: not args.dry_run,
    # The loop under --readonly only warns; installing or removing the service writes.
    "guard": lambda args: args.action in ("install", "uninstall") and not args.dry_run,
}
_FLAG_NAMES = {"readonly": "--readonly", "all_users": "--all-users", "interval": "--interval"}


def apply_globals(args: argparse.Namespace) -> None:
    """Reject a global option the command does not honour, fill in the defaults,
    and refuse a writing command under --readonly before it does anything."""
    command = getattr(args, "command", None)
    accepted = GLOBALS_ACCEPTED.get(command, frozenset())
    for name in GLOBAL_DEFAULTS:
        if hasattr(args, name) and name not in accepted:
            raise UsageError(f"{_FLAG_NAMES[name]} does not apply to `hermes-top {command}`")
    own = COMMAND_DEFAULTS.get(command or "", {})
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, own.get(name, default))
    writes = WRITES.get(command or "")
    if args.readonly and writes is not None and writes(args):
        raise UsageError(f"read-only mode: refusing to run `hermes-top {command}` (nothing done)")


class Parser(argparse.ArgumentParser):
    """Bad arguments get one line (and exit 2), not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hermes-top: error: {escape_control(message)} (see `{self.prog} --help`)\n")


def build_parser(
    argv: Sequence[str] | None = None, *, all_commands: bool = False
) -> argparse.ArgumentParser:
    """The parser for ``argv`` (the command line by default): with only the
    modules it needs, or every command's (``all_commands``: shell completion)."""
    parser = Parser(
        prog="hermes-top",
        description="Find, explain and safely reap leaked Hermes dashboard workers.",
        epilog="With no command, opens the terminal UI on this machine's Hermes processes.",
    )
    parser.add_argument("--version", action="version", version=f"hermes-top {__version__}")
    ui.add_ui_options(parser)
    parser.set_defaults(func=ui.run)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = list(dict.fromkeys(COMMAND_MODULES.values())) if all_commands else _modules_for(argv)
    for name in modules:
        importlib.import_module(f"hermes_top.commands.{name}").register(sub)
    if not modules:
        # The TUI: no command's module is imported before its first paint (they
        # cost ~80 ms). The names are still known, so a mistyped command gets
        # argparse's "invalid choice" error.
        for command in COMMAND_MODULES:
            sub.add_parser(command)
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


def _tolerant_streams() -> None:
    """Never die on output: a character the terminal's encoding lacks becomes a
    backslash escape (PYTHONIOENCODING=ascii, a C locale over SSH)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def _stdout_closed() -> int:
    """The reader went away (`hermes-top list | head -1`): stop quietly, as ps does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is silent
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    raise_own_fd_limit()
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        apply_globals(args)
        code: int = args.func(args)
    except HermesTopError as err:
        # One line, whatever the message holds (paths and names come from others).
        print(f"hermes-top: error: {escape_control(str(err))}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        print("hermes-top: interrupted", file=sys.stderr)
        return 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    return code
