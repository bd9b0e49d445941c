"""Row 1: one full in-process refresh (``Core().scan()``) against a plain /proc loop.

The refresh is the real thing: list every process, classify the Hermes ones,
count their FDs, read the dashboards' limits and reclaimable pipes, pin
candidates with pidfds, build the Snapshot. It runs unscoped (reading only).
"Cold" is a fresh Core per refresh (the ``hermes-top list`` case: no caches);
"warm" reuses one Core (the TUI case: argv and pins cached). The target is on
warm. The baseline lists /proc and reads every /proc/PID/stat and
/proc/PID/cmdline, nothing else. The three are interleaved so drift on a shared
machine hits them alike.

Run alone: ``.venv/bin/python benchmarks/bench_refresh.py [--quick] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time

from _common import Row, median
from _load import count_processes, run_standalone

from hermes_top.core.engine import Core
from hermes_top.core.scan import FULL_PASS_S


def plain_proc_loop() -> int:
    """The baseline: read stat and cmdline of every PID in /proc.

    Deliberately a plain loop, not hermes_top.core.procfs: it is the floor the
    real scan is measured against (the same files read, nothing parsed).
    """
    n = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                f.read()
        except OSError:
            continue  # exited while we looked
        n += 1
    return n


def cold_scan() -> int:
    core = Core(readonly=True)
    try:
        return len(core.scan().processes)
    finally:
        core.close()


def profile_warm(core: Core, scans: int = 20, top: int = 14) -> str:
    """cProfile of ``scans`` warm refreshes: the functions with the most own time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(scans):
        core.scan()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def run(repeats: int, *, profile: bool = False) -> list[Row]:
    base: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    ticks: list[float] = []
    warm_core = Core(readonly=True)
    # The TUI's core: incremental, on a clock that moves 1 s per tick, so one
    # tick in FULL_PASS_S is a full pass, as at the TUI's 1 s refresh.
    fake_now = [time.time()]
    tick_core = Core(readonly=True, incremental=True, clock=lambda: fake_now[0])
    try:
        hermes = len(warm_core.scan().processes)  # prime argv cache and pins
        tick_core.scan()
        plain_proc_loop()  # and the kernel's dentry cache, for fairness
        for _ in range(repeats):
            for _ in range(5):
                fake_now[0] += 1.0
                t = time.perf_counter()
                tick_core.scan()
                ticks.append(time.perf_counter() - t)
            t = time.perf_counter()
            plain_proc_loop()
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            cold_scan()
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            warm_core.scan()
            warm.append(time.perf_counter() - t)
        profile_text = profile_warm(warm_core) if profile else ""
    finally:
        warm_core.close()
        tick_core.close()
    b, c, w = median(base) * 1000, median(cold) * 1000, median(warm) * 1000
    # The mean, not the median: the full passes are part of what a tick costs.
    i = sum(ticks) / len(ticks) * 1000
    procs = count_processes()
    how = (
        f"{procs} processes on the machine, {hermes} of them Hermes (unscoped scan); "
        f"baseline reads stat+cmdline of every PID; spread warm {min(warm) * 1000:.1f}–"
        f"{max(warm) * 1000:.1f} ms, baseline {min(base) * 1000:.1f}–{max(base) * 1000:.1f} ms"
    )
    warm_row = Row("1. refresh in-process, warm Core", w, b, "ms", "<= 1.0x", None, repeats)
    warm_row.baseline_n = repeats
    warm_row.met = w <= b
    warm_row.notes.append(how)
    cold_row = Row("1. refresh in-process, cold Core", c, b, "ms", "(info)", None, repeats)
    cold_row.baseline_n = repeats
    cold_row.notes.append("fresh Core() per refresh (no argv cache, every candidate re-pinned)")
    if profile_text:
        warm_row.notes.append("profile of 20 warm refreshes:\n" + profile_text)
    tick_row = Row("1. TUI tick (incremental scan)", i, b, "ms", "<= 0.5x", None, len(ticks))
    tick_row.baseline_n = repeats
    tick_row.met = i <= 0.5 * b
    tick_row.notes.append(
        f"mean of {len(ticks)} ticks, 1 in {FULL_PASS_S:g} a full pass (clock 1 s per tick); "
        f"spread {min(ticks) * 1000:.1f}–{max(ticks) * 1000:.1f} ms"
    )
    return [warm_row, tick_row, cold_row]


def _add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of warm scans")


def main() -> None:
    run_standalone(
        __doc__,
        lambda args: run(args.repeats or (5 if args.quick else 15), profile=args.profile),
        _add_args,
    )


if __name__ == "__main__":
    main()
