"""`hermes-top restart`, `status` and `doctor`: the dashboard's launchd agent or
systemd user unit, and the FD-limit settings that keep a residual leak survivable.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
from typing import Any

from hermes_top.commands.procs import confirm, pid_arg
from hermes_top.core.errors import UsageError
from hermes_top.service import config, doctor, doctor_fix
from hermes_top.service.agent import AgentStatus
from hermes_top.service.control import (
    agent_statuses,
    dashboard_name,
    fd_count,
    get_manager,
    loaded_status,
    restart_agent,
)

#: Upper bound for --wait: a restart that takes longer has failed.
MAX_WAIT_S = 600


def _add_manager(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--manager",
        choices=config.MANAGERS,
        help="service manager (default: launchd on macOS, systemd elsewhere, or the config file)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _add_names(p: argparse.ArgumentParser) -> None:
    names = p.add_mutually_exclusive_group()
    names.add_argument(
        "--label",
        metavar="L",
        help=f"launchd label of the dashboard (default {config.DEFAULT_LABEL})",
    )
    names.add_argument(
        "--unit",
        metavar="U",
        help=f"systemd user unit of the dashboard (default {config.DEFAULT_UNIT})",
    )


def register(sub: Any) -> None:
    r = sub.add_parser(
        "restart",
        help="restart the dashboard (its launchd agent / systemd unit, or --dashboard PID)",
        description="launchd: launchctl kickstart -k gui/<uid>/<label>; "
        "systemd: systemctl --user restart <unit>. Shows the PID and FD count before and after. "
        "With --dashboard PID, restarts that dashboard through whatever runs it (found from "
        "the process: its systemd unit, launchd job, desktop app, or a relaunch of the same "
        "command) and waits until it answers again.",
    )
    _add_manager(r)
    _add_names(r)
    r.add_argument(
        "--dashboard", type=pid_arg, metavar="PID", help="restart this running dashboard"
    )
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument(
        "--wait", type=float, default=10.0, metavar="S", help="wait up to S s for the new PID (10)"
    )
    r.set_defaults(func=run_restart)

    s = sub.add_parser(
        "status",
        help="state, PID, last exit and FD limits of the dashboard and gateway agents",
    )
    _add_manager(s)
    _add_names(s)
    s.set_defaults(func=run_status)

    d = sub.add_parser(
        "doctor",
        help="check FD limits, leaked workers and leftover temp files; --fix repairs",
        description="Exit 1 when any finding is a warning or an error, else 0.",
    )
    _add_manager(d)
    d.add_argument("--fix", action="store_true", help="raise the limits and delete leftover files")
    d.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="with --fix, also run launchctl bootout/bootstrap so a changed plist applies",
    )
    d.add_argument("--plist", type=pathlib.Path, metavar="PATH", help="check this agent plist")
    d.add_argument("--unit", metavar="U", help="check this systemd user unit")
    d.add_argument("--label", metavar="L", help="launchd label of the dashboard")
    d.add_argument(
        "--soft",
        type=int,
        metavar="N",
        help=f"target soft limit (default {config.DEFAULT_SOFT_LIMIT})",
    )
    d.add_argument(
        "--hard",
        type=int,
        metavar="N",
        help=f"target hard limit (default {config.DEFAULT_HARD_LIMIT})",
    )
    d.set_defaults(func=run_doctor)


def _settings(args: argparse.Namespace) -> config.ServiceSettings:
    return config.load_settings().with_overrides(
        manager=args.manager,
        label=getattr(args, "label", None),
        unit=getattr(args, "unit", None),
        soft_limit=getattr(args, "soft", None),
        hard_limit=getattr(args, "hard", None),
    )


def _dump(data: Any) -> None:
    print(json.dumps(data, indent=2))


# -- restart -------------------------------------------------------------------


def run_restart(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.wait) and 0 <= args.wait <= MAX_WAIT_S):
        raise UsageError(f"--wait must be a number of seconds from 0 to {MAX_WAIT_S}")
    if args.dashboard is not None:
        if args.label or args.unit or args.manager:
            raise UsageError("--dashboard finds what runs it: give no --label, --unit or --manager")
        return _restart_process(args)
    settings = _settings(args)
    manager = get_manager(settings)
    name = dashboard_name(settings)
    before = loaded_status(manager, name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to restart {name} without --yes: no terminal to confirm on")
        fds = fd_count(before.pid)
        what = f"pid {before.pid}" if before.pid else "not running"
        if fds is not None:
            what += f", {fds} FDs"
        answer = input(f"Restart {manager.describe(name)} ({what})? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Cancelled; nothing was restarted.")
            return 0
    report = restart_agent(manager, name, before=before, wait_s=args.wait)
    if args.json:
        _dump(report.to_json())
    else:
        print(f"ran: {report.command}")
        print(report.summary)
    return 0 if report.running else 1


def _restart_process(args: argparse.Namespace) -> int:
    """The recover flow for one dashboard, restart only (see commands/recover.py)."""
    from hermes_top.commands.recover import print_recover_plan, print_recover_report
    from hermes_top.commands.wiring import make_core

    core = make_core(readonly=args.readonly)
    try:
        plan = core.plan_recover(core.scan(), args.dashboard, restart_only=True)
        out = sys.stderr if args.json else sys.stdout
        print_recover_plan(plan, out)
        if not plan.steps:
            return 1
        if not args.yes and not confirm(f"Restart dashboard {args.dashboard}?", out):
            return 0
        report = core.recover(plan, wait_s=args.wait)
    finally:
        core.close()
    if args.json:
        _dump({"outcomes": [o.to_json() for o in report.outcomes], "ok": report.ok})
    else:
        print_recover_report(report)
    return 0 if report.ok else 1


# -- status --------------------------------------------------------------------


def _status_line(st: AgentStatus) -> str:
    loaded = "loaded" if st.loaded else "not loaded"
    state = f" ({st.state})" if st.state else ""
    pid = f"pid {st.pid}" if st.pid else "no pid"
    last = f", last exit {st.last_exit}" if st.last_exit else ""
    lim = st.limits
    limits = f"NOFILE {_num(lim.soft)}/{_num(lim.hard)} ({lim.label})"
    return f"{st.kind:<9} {st.name}: {loaded}{state}, {pid}{last}, {limits}"


def _num(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    manager = get_manager(settings)
    statuses = agent_statuses(manager)
    if args.json:
        _dump({"manager": manager.name, "agents": [s.to_json() for s in statuses]})
        return 0
    print(f"{manager.name} ({settings.domain if manager.name == 'launchd' else 'user units'}):")
    for st in statuses:
        print("  " + _status_line(st))
        if st.limits.detail:
            print(f"    limits from: {st.limits.detail}")
    return 0


# -- doctor --------------------------------------------------------------------


def run_doctor(args: argparse.Namespace) -> int:
    if args.yes and not args.fix:
        raise UsageError("--yes only makes sense with --fix")
    settings = _settings(args)
    request = doctor.DoctorRequest(
        settings, plist=args.plist, unit=config.normalize_unit(args.unit) if args.unit else None
    )
    findings = doctor.run_checks(request)
    fixes = doctor_fix.apply_fixes(findings, settings, reload=args.yes) if args.fix else []
    # After --fix, what is left decides the exit status.
    code = doctor.exit_code(doctor_fix.remaining_findings(findings, fixes))
    if args.json:
        _dump(
            {
                "findings": [f.to_json() for f in findings],
                "fixes": [x.to_json() for x in fixes],
                "exit_code": code,
            }
        )
        return code
    if not findings:
        print("No problems found.")
    for f in findings:
        print(f"{f.severity.label:<7}  {f.code:<17} {f.subject}: {f.message}")
        if f.fix and not args.fix:
            print(f"         fix: {f.fix}")
    for x in fixes:
        print(f"fixed    {x.code:<17} {x.subject}: {x.message}")
        if x.backup:
            print(f"         backup: {x.backup}")
        for command in x.ran_commands:
            print(f"         ran: {command}")
        if x.pending_commands:
            print("         to apply it now, run:")
            for command in x.pending_commands:
                print(f"           {command}")
    fixable = [f for f in findings if f.fix]
    if fixable and not args.fix:
        print(f"`hermes-top doctor --fix` fixes {len(fixable)} of these.")
    return code
