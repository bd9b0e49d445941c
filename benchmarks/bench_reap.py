"""Rows 3, 4 and 4b: bulk reap of 500 orphans (that exit on SIGTERM / that
ignore it), and ``hermes-top reap`` of 300 orphans as a whole process.

Each run starts a fresh farm of orphaned stand-in slash workers (real argv
shape, see _load.OrphanFarm), scans with a Core scoped to exactly that farm,
plans the reap (every worker must be planned as an orphan) and times
``Core.reap(targets, grace_s=...)``: TERM all, wait together, KILL survivors,
wait again. The scan and plan are timed separately (row 1 is the scan's cost).

Baseline: the serial loop people write with psutil, over equivalent processes:
``for p in procs: p.terminate(); try: p.wait(grace) except TimeoutExpired:
p.kill(); p.wait()``. It costs O(n x grace) on TERM-ignoring processes, so
row 4's baseline is measured on a small n and extrapolated (said in the notes).

Row 4b is what a user waits for: ``hermes-top reap --yes --json --pid ...``
(the 300 farm PIDs: the load's own orphans must stay) from spawn to exit --
interpreter start, imports, scan, plan, journal, signals, waiting. Every PID
must come back "terminated", else the row fails. Baseline: the same serial
psutil loop over 300 equivalent orphans.

Run alone: ``.venv/bin/python benchmarks/bench_reap.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _common import Row, median
from _load import OrphanFarm, run_standalone

from hermes_top.core.engine import Core
from hermes_top.core.journal import Journal
from hermes_top.core.model import State


@dataclass
class ReapRun:
    wall_s: float
    scan_plan_s: float
    planned: int
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Set when the core raised: the figure cannot be given.
    error: str | None = None


def core_reap(farm: OrphanFarm, n: int, *, ignore_term: bool, grace_s: float) -> ReapRun:
    pids = farm.spawn(n, ignore_term=ignore_term)
    try:
        with tempfile.TemporaryDirectory(prefix="hermes-bench-journal-") as tmp:
            core = Core(scope=farm.in_scope, journal=Journal(Path(tmp) / "signals.jsonl"))
            try:
                start = time.perf_counter()
                plan = core.plan_reap(core.scan())
                scan_plan = time.perf_counter() - start
                targets = [p for p in plan.targets if p.state is State.ORPHAN]
                start = time.perf_counter()
                try:
                    report = core.reap(targets, grace_s=grace_s)
                except Exception as err:  # a core bug: report it in the table, keep going
                    where = traceback.extract_tb(err.__traceback__)[-1]
                    error = (
                        f"Core.reap raised {type(err).__name__}: {err} "
                        f"(at {Path(where.filename).name}:{where.lineno} {where.name})"
                    )
                    return ReapRun(
                        time.perf_counter() - start, scan_plan, len(targets), error=error
                    )
                wall = time.perf_counter() - start
            finally:
                core.close()
        outcomes = Counter(r.outcome.value for r in report.results)
        return ReapRun(wall, scan_plan, len(targets), outcomes)
    finally:
        farm.reap_exited(pids)


def serial_loop(farm: OrphanFarm, n: int, *, ignore_term: bool, grace_s: float) -> list[float]:
    """The baseline; returns the seconds each process took."""
    pids = farm.spawn(n, ignore_term=ignore_term)
    per_process: list[float] = []
    try:
        # Our own children (we are their subreaper, not yet waited for): the PIDs are ours.
        procs = [psutil.Process(pid) for pid in pids]
        for proc in procs:
            start = time.perf_counter()
            proc.terminate()
            try:
                proc.wait(grace_s)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(grace_s)
            per_process.append(time.perf_counter() - start)
    finally:
        farm.reap_exited(pids)
    return per_process


def _describe(runs: list[ReapRun], n: int) -> str:
    outcomes: Counter[str] = Counter()
    for r in runs:
        outcomes.update(r.outcomes)
    planned = sorted({r.planned for r in runs})
    return (
        f"{n} orphans per run, planned {'/'.join(map(str, planned))}; outcomes over "
        f"{len(runs)} runs: {dict(outcomes)}; scan+plan (not in the figure) median "
        f"{median([r.scan_plan_s for r in runs]) * 1000:.0f} ms"
    )


def _mark_failures(row: Row, runs: list[ReapRun]) -> None:
    errors = [r.error for r in runs if r.error]
    if errors:
        row.measured, row.met = None, False
        row.measured_text = f"FAILED in {len(errors)} of {len(runs)} runs"
        row.notes.extend(sorted(set(errors)))


def run_term(n: int, repeats: int, base_repeats: int, grace_s: float = 3.0) -> Row:
    runs: list[ReapRun] = []
    loops: list[float] = []
    per_process: list[float] = []
    with OrphanFarm() as farm:
        for i in range(max(repeats, base_repeats)):
            if i < repeats:
                runs.append(core_reap(farm, n, ignore_term=False, grace_s=grace_s))
            if i < base_repeats:
                times = serial_loop(farm, n, ignore_term=False, grace_s=grace_s)
                loops.append(sum(times))
                per_process.extend(times)
    wall = median([r.wall_s for r in runs])
    row = Row(
        f"3. bulk reap, {n} orphans exiting on TERM",
        wall,
        median(loops),
        "s",
        "<= 1.0 s",
        wall <= 1.0,
        repeats,
    )
    row.baseline_n = base_repeats
    _mark_failures(row, runs)
    row.notes.append(_describe(runs, n) + f"; grace {grace_s:g} s")
    row.notes.append(
        f"baseline: serial psutil terminate(); wait({grace_s:g}) over {n} equivalent orphans, "
        f"median {median(per_process) * 1000:.2f} ms per process"
    )
    return row


def run_ignore(n: int, repeats: int, base_n: int, grace_s: float = 1.0) -> Row:
    runs = []
    with OrphanFarm() as farm:
        for _ in range(repeats):
            runs.append(core_reap(farm, n, ignore_term=True, grace_s=grace_s))
        per_process = serial_loop(farm, base_n, ignore_term=True, grace_s=grace_s)
    wall = median([r.wall_s for r in runs])
    base = median(per_process) * n
    target = grace_s + 1.0
    row = Row(
        f"4. bulk reap, {n} orphans ignoring TERM, grace {grace_s:g} s",
        wall,
        base,
        "s",
        f"<= {target:g} s",
        wall <= target,
        repeats,
    )
    row.baseline_text = f"{base:.0f} s (extrapolated)"
    _mark_failures(row, runs)
    row.notes.append(_describe(runs, n))
    row.notes.append(
        f"baseline extrapolated: the serial loop measured on {base_n} such orphans, median "
        f"{median(per_process):.3f} s per process x {n} (O(n x grace): not run on {n})"
    )
    return row


def hermes_top_argv() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "hermes-top")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "hermes_top"]


def cli_reap(farm: OrphanFarm, n: int, grace_s: float) -> tuple[float, Counter[str], str | None]:
    """(seconds from spawn to exit, outcomes, error) of one ``hermes-top reap``."""
    pids = farm.spawn(n, ignore_term=False)
    try:
        with tempfile.TemporaryDirectory(prefix="hermes-bench-state-") as state:
            argv = [*hermes_top_argv(), "reap", "--yes", "--json", "--grace", f"{grace_s:g}"]
            for pid in pids:
                argv += ["--pid", str(pid)]
            env = dict(os.environ, HERMES_TOP_STATE_DIR=state)
            start = time.perf_counter()
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, check=False
            )
            wall = time.perf_counter() - start
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[-300:]
            return wall, Counter(), f"hermes-top reap exited {done.returncode}: {err}"
        report = json.loads(done.stdout)
        outcomes = Counter(r["outcome"] for r in report["results"])
        if outcomes.get("terminated", 0) != n:
            return wall, outcomes, f"not every orphan was terminated: {dict(outcomes)}"
        return wall, outcomes, None
    finally:
        farm.reap_exited(pids)


def run_cli(n: int, repeats: int, grace_s: float = 3.0) -> Row:
    walls: list[float] = []
    errors: list[str] = []
    outcomes: Counter[str] = Counter()
    with OrphanFarm() as farm:
        for _ in range(repeats):
            wall, got, error = cli_reap(farm, n, grace_s)
            walls.append(wall)
            outcomes.update(got)
            if error:
                errors.append(error)
        base = serial_loop(farm, n, ignore_term=False, grace_s=grace_s)
    wall = median(walls)
    row = Row(
        f"4b. `hermes-top reap` of {n} orphans, whole process",
        wall,
        sum(base),
        "s",
        "<= 1.0 s",
        wall <= 1.0 and not errors,
        repeats,
    )
    row.baseline_n = 1
    if errors:
        row.measured, row.met = None, False
        row.measured_text = f"FAILED in {len(errors)} of {repeats} runs"
        row.notes.extend(sorted(set(errors)))
    row.notes.append(
        f"spawn to exit of `hermes-top reap --yes --json --pid ...` ({n} PIDs): start-up, "
        f"scan, plan, journal, signals, waits; runs {', '.join(f'{w:.2f}' for w in walls)} s; "
        f"outcomes {dict(outcomes)}"
    )
    row.notes.append(f"baseline: serial psutil terminate(); wait({grace_s:g}) over {n} orphans")
    return row


def run(quick: bool) -> list[Row]:
    n = 100 if quick else 500
    repeats = 1 if quick else 3
    return [
        run_term(n, repeats, base_repeats=1),
        run_ignore(n, repeats, base_n=5 if quick else 20),
        run_cli(100 if quick else 300, repeats),
    ]


def main() -> None:
    run_standalone(__doc__, lambda args: run(args.quick))


if __name__ == "__main__":
    main()
