"""`hermes-top guard`: the unattended loop (core/guard.py) on the CLI's own core,
and `guard install|uninstall|status`: it as a launchd agent or a systemd user
service (service/guard_install.py).

Exit codes: the loop returns 0 when stopped (SIGTERM, SIGINT) after a good last
tick, 1 after a failed one; ``--once`` returns 0 when its tick ran and 1 when
it failed; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

from hermes_top.commands.metrics import MetricsServer, parse_listen, scope_from_env
from hermes_top.core.errors import UsageError
from hermes_top.core.guard import (
    DEFAULT_INTERVAL_S,
    DEFAULT_MIN_AGE_S,
    Guard,
    GuardConfig,
    LeakTrend,
    TickReport,
)
from hermes_top.core.model import Snapshot

ACTIONS = ("run", "install", "uninstall", "status")
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.5, 3600.0
#: --min-age may be up to a week.
MAX_MIN_AGE_S = 7 * 86400.0
MAX_GRACE_S = 60.0
#: Options of the loop, and the service file it is installed with.
_LOOP_ONLY = ("once",)
_INSTALL_ONLY = ("dry_run", "manager", "warn_only")


def register(sub: Any) -> None:
    g = sub.add_parser(
        "guard",
        help="unattended: reap leaked workers, warn before a dashboard runs out of FDs",
        description="Every --interval: scan (nothing reused), reap orphans and "
        "high-confidence abandoned workers older than --min-age (journalled, as `reap`), "
        "warn (log line; desktop notification via notify-send / osascript where there is "
        "one) when a dashboard passes 80 % of its soft FD limit or its leak rate reaches "
        "the limit within an hour; with --recover, recover a dashboard at 95 %. "
        "`hermes-top --readonly guard` only warns. "
        "`guard install` runs it as a launchd agent (macOS) or a systemd user service; "
        "`guard uninstall` removes that; `guard status` shows it.",
    )
    g.add_argument(
        "action",
        nargs="?",
        choices=ACTIONS,
        default="run",
        help="run the loop (the default), or install, uninstall or show its service",
    )
    g.add_argument(
        "--interval",
        type=float,
        default=argparse.SUPPRESS,  # `hermes-top --interval 30 guard` holds too
        metavar="S",
        help=f"seconds between ticks (default {DEFAULT_INTERVAL_S:g})",
    )
    g.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE_S,
        metavar="S",
        help=f"reap only what is older than S s (default {DEFAULT_MIN_AGE_S:g})",
    )
    g.add_argument(
        "--recover", action="store_true", help="recover a dashboard at 95%% of its limit"
    )
    g.add_argument("--grace", type=float, default=3.0, metavar="S", help="SIGTERM grace (3 s)")
    g.add_argument("--once", action="store_true", help="run one tick and exit")
    g.add_argument(
        "--metrics-listen",
        metavar="ADDR:PORT",
        help="serve Prometheus metrics at http://ADDR:PORT/metrics (loopback only, e.g. "
        "127.0.0.1:9464)",
    )
    g.add_argument(
        "--metrics-allow-remote",
        action="store_true",
        help="allow --metrics-listen on a non-loopback address (firewall it)",
    )
    g.add_argument("--no-notify", action="store_true", help="no desktop notifications")
    g.add_argument(
        "--all-users",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also reap other users' processes (needs root)",
    )
    g.add_argument(
        "--dry-run", action="store_true", help="install/uninstall: print what would be done"
    )
    g.add_argument(
        "--manager",
        choices=("launchd", "systemd"),
        help="install/uninstall/status: launchd or systemd (default: this platform's)",
    )
    g.add_argument(
        "--warn-only", action="store_true", help="install: the service runs `--readonly guard`"
    )
    g.set_defaults(func=run)


def _seconds(name: str, value: float, low: float, high: float) -> float:
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{name} must be a number of seconds from {low:g} to {high:g}")
    return value


def check_args(args: argparse.Namespace) -> GuardConfig:
    """Validate the options (one line each, exit 2) and return the loop's config."""
    interval = _seconds("--interval", args.interval, MIN_INTERVAL_S, MAX_INTERVAL_S)
    min_age = _seconds("--min-age", args.min_age, 0.0, MAX_MIN_AGE_S)
    grace = _seconds("--grace", args.grace, 0.0, MAX_GRACE_S)
    if args.action != "run":
        for name in _LOOP_ONLY:
            if getattr(args, name):
                raise UsageError(
                    f"--{name.replace('_', '-')} applies to the loop, not `guard {args.action}`"
                )
    if args.action not in ("install", "uninstall") and args.dry_run:
        raise UsageError("--dry-run applies to `guard install` and `guard uninstall`")
    if args.action != "install" and args.warn_only:
        raise UsageError(
            "--warn-only applies to `guard install` (for the loop: hermes-top --readonly guard)"
        )
    if args.action == "run" and args.manager:
        raise UsageError("--manager applies to `guard install|uninstall|status`")
    if args.metrics_listen is not None:
        parse_listen(args.metrics_listen, allow_remote=args.metrics_allow_remote)
    elif args.metrics_allow_remote:
        raise UsageError("--metrics-allow-remote needs --metrics-listen")
    return GuardConfig(interval_s=interval, min_age_s=min_age, recover=args.recover, grace_s=grace)


def run(args: argparse.Namespace) -> int:
    config = check_args(args)
    if args.action == "run":
        return run_loop(args, config)
    return run_service(args, service_argv(args, config))


# -- the loop ------------------------------------------------------------------------


def trend_source() -> Any:
    """Feeds each snapshot to an FdHistory and returns every dashboard's trend."""
    from hermes_top.view.history import FdHistory

    history = FdHistory()

    def trends(snapshot: Snapshot) -> Mapping[int, LeakTrend]:
        for d in snapshot.dashboards:
            history.add(d.pid, snapshot.taken_at, d.num_fds)
        history.forget_except(d.pid for d in snapshot.dashboards)
        return {d.pid: history.trend(d.pid, d.limits.soft) for d in snapshot.dashboards}

    return trends


class _Latest:
    """What the last tick saw, for the metrics server's thread."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.trends: Mapping[int, LeakTrend] = {}

    def update(self, report: TickReport) -> None:
        if report.snapshot is not None:
            self.snapshot, self.trends = report.snapshot, report.trends


def run_loop(args: argparse.Namespace, config: GuardConfig) -> int:
    from hermes_top.commands.wiring import make_core
    from hermes_top.core.guard_notify import desktop_notifier

    listen = (
        parse_listen(args.metrics_listen, allow_remote=args.metrics_allow_remote)
        if args.metrics_listen
        else None
    )
    if listen is not None:
        from hermes_top.view.metrics import require_client

        require_client()
    core = make_core(
        readonly=args.readonly,
        allow_other_users=args.all_users,
        scope=scope_from_env(),
        act=config.recover,
    )

    def probe_journal() -> None:
        journal = core.journal.for_action()
        journal.open()
        journal.close()

    guard = Guard(
        core,
        config,
        trends=trend_source(),
        notify=None if args.no_notify else desktop_notifier(),
        journal_probe=probe_journal,
    )
    latest = _Latest()
    server = None
    try:
        if listen is not None:
            from hermes_top.view.metrics import render

            def render_now(accept: str | None) -> tuple[bytes, str]:
                return render(
                    latest.snapshot, trends=latest.trends, guard=guard.stats(), accept=accept
                )

            server = MetricsServer(listen[0], listen[1], render_now)
            server.start()
            guard.log(f"metrics at {server.url}")
        _stop_on_signals(guard)
        return guard.run(once=args.once, on_tick=latest.update)
    finally:
        if server is not None:
            server.close()
        core.close()


def _stop_on_signals(guard: Guard) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        guard.stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)


# -- the service's command line --------------------------------------------------------


def service_argv(args: argparse.Namespace, config: GuardConfig) -> list[str]:
    """The command the installed service runs: this interpreter, this package,
    the loop with the options given to `guard install`."""
    argv = [os.path.abspath(sys.executable), "-m", "hermes_top"]
    if args.warn_only:
        argv.append("--readonly")
    argv += ["guard", "--interval", f"{config.interval_s:g}", "--min-age", f"{config.min_age_s:g}"]
    if config.grace_s != 3.0:
        argv += ["--grace", f"{config.grace_s:g}"]
    if config.recover:
        argv.append("--recover")
    if args.metrics_listen:
        argv += ["--metrics-listen", args.metrics_listen]
    if args.metrics_allow_remote:
        argv.append("--metrics-allow-remote")
    if args.no_notify:
        argv.append("--no-notify")
    if getattr(args, "all_users", False):
        argv.append("--all-users")
    return argv


# -- install / uninstall / status ------------------------------------------------------


def run_service(args: argparse.Namespace, argv: list[str]) -> int:
    from hermes_top.service import guard_install as gi
    from hermes_top.service.config import load_settings
    from hermes_top.service.runner import format_command

    settings = load_settings().with_overrides(manager=args.manager)
    service = gi.guard_service(settings, argv)
    if args.action == "status":
        return print_status(service, gi.status(service, settings))
    if args.action == "install":
        if args.dry_run:
            print(f"# would write {service.path}")
            sys.stdout.write(service.content.decode())
            then = gi.activate_commands(service, settings)
            print(f"# then run: {'; '.join(format_command(c) for c in then)}")
            print(f"# log: {service.log_hint}")
            return 0
        report = gi.install(service, settings)
        _print_change(report)
        print(f"guard log: {service.log_hint}")
        return 0
    if args.dry_run:
        exists = "" if service.path.exists() else " (not there now)"
        print(f"# would remove {service.path}{exists}")
        after = gi.deactivate_commands(service, settings)
        print(f"# after: {'; '.join(format_command(c) for c in after)}")
        return 0
    _print_change(gi.uninstall(service, settings))
    return 0


def _print_change(report: Any) -> None:
    change = report.file
    print(f"{change.path}: {change.what}")
    if change.backup is not None:
        print(f"  backup of the previous file: {change.backup}")
    for command in report.ran:
        print(f"  ran: {command}")
    for note in report.notes:
        print(f"  {note}")


def print_status(service: Any, st: Any) -> int:
    """Exit 0 when installed and running, 1 otherwise (for scripts)."""
    from hermes_top.core.escape import escape_argv, escape_control

    print(f"guard service ({service.manager}): {service.name}")
    print(f"  file: {service.path} ({'installed' if st.installed else 'not installed'})")
    if st.argv is not None:
        print(f"  runs: {' '.join(escape_argv(st.argv))}")
    state = escape_control(st.state or ("loaded" if st.loaded else "not loaded"))
    pid = f", PID {st.pid}" if st.pid else ""
    print(f"  state: {state}{pid}")
    if st.detail:
        print(f"  cannot ask {service.manager}: {escape_control(st.detail)}")
    print(f"  log: {service.log_hint}")
    return 0 if st.installed and st.running else 1
