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

from hermes_top.commands.wiring import make_core
from hermes_top.core.errors import UsageError
from hermes_top.core.model import (
    ActionReport,
    ProcessInfo,
    Snapshot,
    State,
)
from hermes_top.core.policy import with_subtrees
from hermes_top.core.problems import Severity, problems, worst
from hermes_top.view.format import (
    NOTHING_FOUND,
    STATE_MARK,
    STATE_WIDTH,
    format_age,
    format_bytes,
    format_dashboard,
)

#: Upper bound for --grace / --min-age (an hour is already absurd for a grace).
MAX_SECONDS = 3600
#: Largest PID any supported kernel hands out (Linux pid_max is at most 2^22).
MAX_PID = 1 << 22


def pid_arg(text: str) -> int:
    """A PID on the command line: a whole number from 1 to MAX_PID."""
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a PID: {text!r}") from None
    if not 1 <= pid <= MAX_PID:
        raise argparse.ArgumentTypeError(f"a PID is from 1 to {MAX_PID}, not {text}")
    return pid


def register(sub: Any) -> None:
    p = sub.add_parser("list", help="print one snapshot of every Hermes process")
    p.add_argument("--json", action="store_true", help="machine-readable output (version 1)")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 on any warning: orphans, stale workers, a dashboard at >= 80%% "
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
        "--pid", type=pid_arg, action="append", metavar="PID", help="reap exactly these PIDs"
    )
    r.add_argument(
        "--all-users",
        action="store_true",
        default=argparse.SUPPRESS,  # `hermes-top --all-users reap` must hold too
        help="also signal other users' processes",
    )
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(func=run_reap)


# -- list ----------------------------------------------------------------------


def _row(p: ProcessInfo, indent: str) -> str:
    fds = "-" if p.num_fds is None else str(p.num_fds)
    key = p.session_key or ""
    command = shlex.join(p.cmdline) if p.cmdline else f"[{p.name}] <defunct>"
    return (
        f"{indent}{p.pid:>7} {p.role.value:<13} {STATE_MARK[p.state]:<{STATE_WIDTH}} "
        f"{format_age(p.age_s):>6} {fds:>4} {format_bytes(p.rss_bytes):>7} "
        f"{p.username:<10.10} {key:<22} {command}"
    )


def render_text(snapshot: Snapshot) -> str:
    lines: list[str] = []
    shown: set[int] = set()
    header = (
        f"{'PID':>7} {'ROLE':<13} {'STATE':<{STATE_WIDTH}} {'AGE':>6} {'FDS':>4} {'RSS':>7} "
        f"{'USER':<10} {'SESSION':<22} COMMAND"
    )
    by_dashboard: dict[int, list[ProcessInfo]] = {}
    for p in snapshot.processes:
        if p.dashboard_pid is not None and p.pid != p.dashboard_pid:
            by_dashboard.setdefault(p.dashboard_pid, []).append(p)
    for d in snapshot.dashboards:
        info = snapshot.get(d.pid)
        lines += format_dashboard(d)
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
        lines.append(NOTHING_FOUND)
    s = snapshot.summary
    counts = ", ".join(f"{s[state.value]} {state.value}" for state in State)
    lines.append(f"{s['total']} Hermes process(es): {counts}")
    for p in snapshot.processes:
        if p.state is not State.LIVE:
            sure = f" ({p.confidence.value} confidence)" if p.confidence else ""
            lines.append(f"  {p.pid} {p.state.value}{sure}: {p.reason}")
            lines += [f"      - {fact}" for fact in p.evidence]
    lines += [f"warning: {e}" for e in snapshot.errors]
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    snapshot = make_core(pin=False, act=False).scan()
    if args.json:
        # Indented on a terminal only: indent= forces json's pure-Python encoder,
        # a third of the run time of `list --json | jq` with 200 workers.
        print(json.dumps(snapshot.to_json(), indent=2 if sys.stdout.isatty() else None))
    else:
        print(render_text(snapshot))
    if args.check:
        found = problems(snapshot)
        for p in found:
            run = f": run `{p.remedy}`" if p.remedy else ""
            print(f"check: {p.severity.label}: {p.message}{run}", file=sys.stderr)
        worst_found = worst(found)
        return 1 if worst_found is not None and worst_found >= Severity.WARNING else 0
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
    return with_subtrees(snapshot, targets)  # a worker's MCP servers and tools go with it


def print_plan(
    targets: Sequence[ProcessInfo],
    excluded: Sequence[tuple[ProcessInfo, str]],
    out: TextIO,
    indent: str = "",
) -> None:
    print(
        f"{indent}Will reap {len(targets)} process(es) (SIGTERM, wait, SIGKILL survivors):",
        file=out,
    )
    for p in targets:
        print(
            f"{indent}  {p.pid:>7} {p.role.value:<13} {p.state.value:<9} {p.username:<10.10} "
            f"{shlex.join(p.cmdline) or f'[{p.name}]'}",
            file=out,
        )
        print(f"{indent}          why: {p.reason}", file=out)
        for fact in p.evidence:
            print(f"{indent}            - {fact}", file=out)
    for p, why in excluded:
        print(f"{indent}  skip {p.pid} {p.role.value} ({p.state.value}): {why}", file=out)


def confirm(question: str, out: TextIO) -> bool:
    """Ask on the terminal; without one, refuse (exit 2) rather than guess."""
    if not sys.stdin.isatty():
        raise UsageError(f"refusing without --yes: no terminal to confirm on ({question})")
    print(f"{question} [y/N] ", end="", file=out, flush=True)
    try:
        answer = sys.stdin.readline().strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer not in ("y", "yes"):
        print("Cancelled; nothing was done.", file=out)
        return False
    return True


def print_report(report: ActionReport, indent: str = "") -> None:
    for r in report.results:
        print(f"{indent}  {r.pid:>7} {r.role.value:<13} {r.outcome.value:<10} {r.detail}")
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    verb = "Would signal" if report.dry_run else "Done"
    print(f"{indent}{verb}: {summary or 'nothing'} in {report.elapsed_s:.2f} s")
    warn_journal_loss(report)


def warn_journal_loss(report: ActionReport) -> None:
    if report.journal_lost:
        print(
            f"hermes-top: warning: {report.journal_lost} journal record(s) could not be "
            f"written ({report.journal_error}); the outcomes above are complete",
            file=sys.stderr,
        )


def reap_exit_code(report: ActionReport) -> int:
    """0 when every target ended (terminated, killed, gone) and the journal holds
    every signal, or on a dry run; else 1: denied, changed, survived, skipped,
    unknown and zombie targets were not reaped, or journal records were lost."""
    if report.dry_run:
        return 0
    return 0 if report.all_ended and not report.journal_lost else 1


def run_reap(args: argparse.Namespace) -> int:
    for name, value in (("--grace", args.grace), ("--min-age", args.min_age)):
        if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
            raise UsageError(f"{name} must be a number of seconds from 0 to {MAX_SECONDS}")
    core = make_core(allow_other_users=args.all_users, readonly=args.readonly, act=False)
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
        print_plan(targets, excluded, plan_out)
    if not targets:
        if args.json:
            print(json.dumps(ActionReport(args.dry_run, args.grace, 0.0, ()).to_json(), indent=2))
        else:
            print("Nothing to reap.")
        return 0
    asking = not args.dry_run and not args.yes
    if asking and not confirm(f"Reap these {len(targets)} process(es)?", plan_out):
        return 0
    report = core.reap(targets, grace_s=args.grace, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        warn_journal_loss(report)
    else:
        print_report(report)
    return reap_exit_code(report)
