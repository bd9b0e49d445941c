"""`hermes-top recover`: bring leaking dashboards back in one step — reap what
leaked, restart through whatever runs it, wait until it answers, reap leftovers.

Exit 0 only when every dashboard in the plan answers again and is below its
high FD mark; 1 otherwise (saying why); 2 on usage errors, or without a
terminal to confirm on and no --yes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, TextIO

from hermes_top.commands.procs import MAX_SECONDS, confirm, pid_arg, print_plan, print_report
from hermes_top.commands.wiring import make_core
from hermes_top.core.errors import UsageError
from hermes_top.core.recovery import RecoverPlan, RecoverReport
from hermes_top.view.format import format_dashboard

#: How long `recover` waits for a restarted dashboard to answer, by default.
DEFAULT_WAIT_S = 30.0


def register(sub: Any) -> None:
    r = sub.add_parser(
        "recover",
        help="reap a dashboard's leaks and restart it through whatever runs it",
        description="Plans, for each dashboard whose remedy is not `none` (or the one given), "
        "the reap and the restart (launchd, systemd, its desktop app, or a relaunch of the "
        "same command), asks, runs it, waits until it answers again, and reaps what the old "
        "one left behind. Exit 0 when every dashboard answers again below 80%% of its FD "
        "limit.",
    )
    r.add_argument("--dashboard", type=pid_arg, metavar="PID", help="only this dashboard")
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument("--dry-run", action="store_true", help="show the plan only")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.add_argument("--grace", type=float, default=3.0, metavar="S", help="SIGTERM grace (3 s)")
    r.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="S",
        help=f"wait up to S s for it to answer again ({DEFAULT_WAIT_S:g})",
    )
    r.add_argument(
        "--all-users",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also recover other users' dashboards (needs root)",
    )
    r.set_defaults(func=run)


def print_recover_plan(plan: RecoverPlan, out: TextIO) -> None:
    for step in plan.steps:
        for line in format_dashboard(step.dashboard):
            print(line, file=out)
        if step.reap or step.excluded:
            print_plan(step.reap, step.excluded, out, indent="  ")
        restart = step.restart
        if restart is None:
            print("  no restart needed", file=out)
        elif not restart.possible:
            print(f"  cannot restart it: {restart.detail}", file=out)
        else:
            print(f"  restart ({restart.kind.value}): {restart.command}", file=out)
            print(f"    found: {restart.detail}", file=out)
            ends = "; ".join(step.ends) or "no open tab"
            print(f"    this ends: {ends} (open tabs reconnect)", file=out)
        now = "?" if step.dashboard.num_fds is None else step.dashboard.num_fds
        after = "?" if step.expected_fds is None else f"about {step.expected_fds}"
        print(f"  FDs: {now} now, {after} after (an estimate)", file=out)
    for pid, why in plan.skipped:
        print(f"skip dashboard {pid}: {why}", file=out)


def print_recover_report(report: RecoverReport) -> None:
    for o in report.outcomes:
        new = f"PID {o.new_pid}" if o.new_pid else "no dashboard"
        limit = "?" if o.soft_limit is None else o.soft_limit
        print(
            f"dashboard {o.old_pid} -> {new} on port {o.port}: FDs {o.fds_before} -> "
            f"{o.fds_after} of {limit}: {'ok' if o.ok else 'NOT ok'} ({o.detail})"
        )
        if o.restart is not None:
            print(f"  restart: {o.restart.detail}")
        for what, reap in (("reaped", o.reaped), ("left behind, reaped", o.leftovers)):
            if reap is not None:
                print(f"  {what}:")
                print_report(reap, indent="    ")


def run(args: argparse.Namespace) -> int:
    for name, value in (("--grace", args.grace), ("--wait", args.wait)):
        if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
            raise UsageError(f"{name} must be a number of seconds from 0 to {MAX_SECONDS}")
    core = make_core(allow_other_users=args.all_users, readonly=args.readonly)
    try:
        plan = core.plan_recover(core.scan(), args.dashboard)
        out = sys.stderr if args.json else sys.stdout
        print_recover_plan(plan, out)
        if not plan.steps:
            if args.json:
                print(json.dumps({"plan": [], "skipped": _skipped(plan), "outcomes": []}))
            else:
                print("Nothing to recover.")
            return 1 if args.dashboard is not None and plan.skipped else 0
        if args.dry_run:
            if args.json:
                print(json.dumps({"plan": [s.to_json() for s in plan.steps]}, indent=2))
            return 0
        if not args.yes and not confirm(f"Recover {len(plan.steps)} dashboard(s)?", out):
            return 0
        report = core.recover(plan, grace_s=args.grace, wait_s=args.wait)
    finally:
        core.close()
    if args.json:
        print(
            json.dumps(
                {
                    "plan": [s.to_json() for s in plan.steps],
                    "skipped": _skipped(plan),
                    "outcomes": [o.to_json() for o in report.outcomes],
                    "ok": report.ok,
                },
                indent=2,
            )
        )
    else:
        print_recover_report(report)
    return 0 if report.ok else 1


def _skipped(plan: RecoverPlan) -> list[dict[str, Any]]:
    return [{"pid": pid, "why": why} for pid, why in plan.skipped]
