"""`hermes-top list` and `hermes-top reap`: the scriptable face of the core.

Output names and exit codes are a contract other tools rely on (issue 3).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from hermes_top.core.engine import Core
from hermes_top.core.errors import UsageError
from hermes_top.core.format import STATE_MARK, format_age, format_limits
from hermes_top.core.model import (
    FD_HIGH_RATIO,
    ProcessInfo,
    ReapReport,
    Snapshot,
    State,
)

#: Upper bound for --grace / --min-age (an hour is already absurd for a grace).
MAX_SECONDS = 3600


def register(sub: Any) -> None:
    p = sub.add_parser("list", help="print one snapshot of every Hermes process")
    p.add_argument("--json", action="store_true", help="machine-readable output (version 1)")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if there are orphans or stale workers or a dashboard is at >= 80%% "
        "of its FD limit",
    )
    p.set_defaults(func=run_list)

    r = sub.add_parser("reap", help="terminate leaked workers: SIGTERM, wait, SIGKILL survivors")
    r.add_argument("--dry-run", action="store_true", help="show what would be signalled")
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument("--include-stale", action="store_true", help="also reap stale workers")
    r.add_argument("--grace", type=float, default=3.0, metavar="S", help="SIGTERM grace (3 s)")
    r.add_argument(
        "--min-age", type=float, default=0.0, metavar="S", help="only targets older than S s"
    )
    r.add_argument(
        "--pid", type=int, action="append", metavar="PID", help="reap exactly these PIDs"
    )
    r.add_argument("--all-users", action="store_true", help="also signal other users' processes")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(func=run_reap)


# -- list ----------------------------------------------------------------------


def check_problems(snapshot: Snapshot) -> list[str]:
    """What `list --check` complains about, one line each (empty when healthy)."""
    problems: list[str] = []
    summary = snapshot.summary
    if summary["orphan"]:
        problems.append(f"{summary['orphan']} orphaned worker(s): run `hermes-top reap`")
    if summary["stale"]:
        problems.append(
            f"{summary['stale']} stale worker(s): run `hermes-top reap --include-stale`"
        )
    for d in snapshot.dashboards:
        ratio = d.fd_ratio
        if ratio is not None and ratio >= FD_HIGH_RATIO:
            problems.append(
                f"dashboard {d.pid} uses {d.num_fds} of {d.limits.soft} FDs ({ratio:.0%}, "
                f"{d.limits.label}): run `hermes-top doctor`"
            )
    return problems


def _row(p: ProcessInfo, indent: str) -> str:
    fds = "-" if p.num_fds is None else str(p.num_fds)
    key = p.session_key or ""
    command = shlex.join(p.cmdline) if p.cmdline else f"[{p.name}] <defunct>"
    return (
        f"{indent}{p.pid:>7} {p.role.value:<13} {STATE_MARK[p.state]:<8} "
        f"{format_age(p.age_s):>6} {fds:>4} {p.username:<10.10} {key:<22} {command}"
    )


def render_text(snapshot: Snapshot) -> str:
    lines: list[str] = []
    shown: set[int] = set()
    header = f"{'PID':>7} {'ROLE':<13} {'STATE':<8} {'AGE':>6} {'FDS':>4} {'USER':<10} " + (
        f"{'SESSION':<22} COMMAND"
    )
    by_dashboard: dict[int, list[ProcessInfo]] = {}
    for p in snapshot.processes:
        if p.dashboard_pid is not None and p.pid != p.dashboard_pid:
            by_dashboard.setdefault(p.dashboard_pid, []).append(p)
    for d in snapshot.dashboards:
        info = snapshot.get(d.pid)
        where = f" port {d.port}" if d.port else ""
        fds = "?" if d.num_fds is None else str(d.num_fds)
        reclaim = f"{'~' if d.reclaimable_is_estimate else ''}{d.reclaimable_fds}"
        lines.append(
            f"Dashboard {d.pid}{where}: FDs {fds} / {format_limits(d.limits)}; "
            f"reaping would free {reclaim}; {len(d.sessions)} session(s)"
        )
        lines.append("  " + header)
        if info is not None:
            lines.append(_row(info, "  "))
            shown.add(info.pid)
        for p in by_dashboard.get(d.pid, []):
            lines.append(_row(p, "  "))
            shown.add(p.pid)
        lines.append("")
    rest = [p for p in snapshot.processes if p.pid not in shown]
    orphans = [p for p in rest if p.state is State.ORPHAN]
    others = [p for p in rest if p.state is not State.ORPHAN]
    if others:
        lines += ["Other Hermes processes:", "  " + header]
        lines += [_row(p, "  ") for p in others] + [""]
    if orphans:
        lines += ["Orphans (no live host):", "  " + header]
        lines += [_row(p, "  ") for p in orphans] + [""]
    if not snapshot.processes:
        lines.append(
            "No Hermes processes found (looked for `hermes dashboard`, hermes_cli.main, "
            "tui_gateway.* and the chat TUI). Try `hermes-top demo`."
        )
    s = snapshot.summary
    lines.append(
        f"{s['total']} Hermes process(es): {s['live']} live, {s['stale']} stale, "
        f"{s['orphan']} orphan, {s['zombie']} zombie"
    )
    for p in snapshot.processes:
        if p.state is not State.LIVE:
            lines.append(f"  {p.pid} {p.state.value}: {p.reason}")
    lines += [f"warning: {e}" for e in snapshot.errors]
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    snapshot = Core(pin=False).scan()
    if args.json:
        print(json.dumps(snapshot.to_json(), indent=2))
    else:
        print(render_text(snapshot))
    if args.check:
        problems = check_problems(snapshot)
        for line in problems:
            print(f"check: {line}", file=sys.stderr)
        return 1 if problems else 0
    return 0


# -- reap ----------------------------------------------------------------------


def _targets_for_pids(snapshot: Snapshot, pids: Sequence[int]) -> list[ProcessInfo]:
    targets = []
    for pid in pids:
        info = snapshot.get(pid)
        if info is None:
            raise UsageError(
                f"PID {pid} is not a Hermes process hermes-top can see "
                "(see `hermes-top list`); nothing was signalled"
            )
        targets.append(info)
    return targets


def _print_plan(
    targets: Sequence[ProcessInfo],
    excluded: Sequence[tuple[ProcessInfo, str]],
    out: TextIO,
) -> None:
    print(f"Will reap {len(targets)} process(es) (SIGTERM, wait, SIGKILL survivors):", file=out)
    for p in targets:
        print(
            f"  {p.pid:>7} {p.role.value:<13} {p.state.value:<7} {p.username:<10.10} "
            f"{shlex.join(p.cmdline)}",
            file=out,
        )
        print(f"          why: {p.reason}", file=out)
    for p, why in excluded:
        print(f"  skip {p.pid} {p.role.value} ({p.state.value}): {why}", file=out)


def _print_report(report: ReapReport) -> None:
    for r in report.results:
        print(f"  {r.pid:>7} {r.role.value:<13} {r.outcome.value:<10} {r.detail}")
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    verb = "Would signal" if report.dry_run else "Done"
    print(f"{verb}: {summary or 'nothing'} in {report.elapsed_s:.2f} s")


def reap_exit_code(report: ReapReport) -> int:
    """0 when every target ended (terminated, killed, gone) or on a dry run, else 1:
    denied, changed, survived, skipped and zombie targets were not reaped."""
    return 0 if report.dry_run or report.all_ended else 1


def run_reap(args: argparse.Namespace) -> int:
    for name, value in (("--grace", args.grace), ("--min-age", args.min_age)):
        if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
            raise UsageError(f"{name} must be a number of seconds from 0 to {MAX_SECONDS}")
    core = Core(allow_other_users=args.all_users)
    snapshot = core.scan()
    if args.pid:
        targets = _targets_for_pids(snapshot, args.pid)
        excluded: list[tuple[ProcessInfo, str]] = []
    else:
        plan = core.plan_reap(snapshot, include_stale=args.include_stale, min_age_s=args.min_age)
        targets, excluded = list(plan.targets), list(plan.excluded)
    # With --json the plan goes to stderr, so stdout stays one JSON document.
    plan_out = sys.stderr if args.json else sys.stdout
    if not args.json or not (args.yes or args.dry_run):
        _print_plan(targets, excluded, plan_out)
    if not targets:
        if args.json:
            print(json.dumps(ReapReport(args.dry_run, args.grace, 0.0, ()).to_json(), indent=2))
        else:
            print("Nothing to reap.")
        return 0
    if not args.dry_run and not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to reap without --yes: no terminal to confirm on")
        print(f"Reap these {len(targets)} process(es)? [y/N] ", end="", file=plan_out, flush=True)
        try:
            answer = sys.stdin.readline().strip().lower()
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer not in ("y", "yes"):
            print("Cancelled; nothing was signalled.", file=plan_out)
            return 0
    report = core.reap(targets, grace_s=args.grace, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    return reap_exit_code(report)
