"""Run every benchmark under one shared load and print one table.

    .venv/bin/python benchmarks/run_all.py            # full run (~4 min)
    .venv/bin/python benchmarks/run_all.py --quick    # smoke run (~1.5 min)

Order: refresh, ``list``, TUI (all on the standard load), then the reap rows,
which add and remove their own orphan farms. Everything started is killed and
reaped at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable

import bench_list
import bench_reap
import bench_refresh
import bench_tui
from _common import Row, add_common_args, cleanup_on_signals, format_table, machine_description
from _load import StandardLoad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--profile", action="store_true", help="add a cProfile of warm scans")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["refresh", "list", "tui", "reap"],
        help="leave a benchmark out (repeatable)",
    )
    args = parser.parse_args()
    cleanup_on_signals()
    machine = machine_description()
    began = time.perf_counter()
    rows: list[Row] = []

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {msg}", flush=True)

    benchmarks: list[tuple[str, Callable[[], list[Row]]]] = [
        ("refresh", lambda: bench_refresh.run(5 if args.quick else 15, profile=args.profile)),
        ("list", lambda: bench_list.run(3 if args.quick else 9)),
        ("tui", lambda: bench_tui.run(args.quick, load.ready_at)),
        ("reap", lambda: bench_reap.run(args.quick)),
    ]
    with StandardLoad(args.hermes, args.sleepers, log=log) as load:
        log(f"load ready in {load.build_s:.1f} s: {load.describe()}")
        described = load.describe()
        for name, bench in benchmarks:
            if name in args.skip:
                continue
            try:
                rows += bench()
            except Exception as err:  # one broken benchmark must not hide the others
                failed = Row(f"{name} benchmark", None, None, "", "—", False)
                failed.measured_text = "FAILED"
                failed.notes.append(f"{type(err).__name__}: {err}")
                failed.notes.append(traceback.format_exc())
                rows.append(failed)
            log(f"{name} done")
    log("load cleaned up")
    print()
    print(f"Machine: {machine}")
    print(f"Load: {described}")
    if args.quick:
        print("QUICK RUN: fewer repetitions, 100-orphan reaps, 15 s idle window")
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()
