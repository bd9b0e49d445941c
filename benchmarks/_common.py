"""Shared plumbing for the benchmark scripts: result rows, medians, the table,
and the process hygiene every script needs (PDEATHSIG, signals -> cleanup; the
subreaper is hermes_top.sim.become_subreaper).

Benchmarks print measured figures; they never assert. Every figure is the
median of repeated runs and is shown next to a baseline measured in the same
run on the same load, so the ratio means something on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    #: Median of the measured runs, in ``unit``; None when not measured.
    measured: float | None
    #: Median of the baseline runs (same unit), or None when there is none.
    baseline: float | None
    unit: str
    #: Human text of the target, e.g. "<= 1.0x" or "<= 1.0 s".
    target: str
    #: Whether the target is met; None when it could not be judged.
    met: bool | None
    n: int = 0
    baseline_n: int = 0
    #: Free text printed under the table (how it was measured, why n/a ...).
    notes: list[str] = field(default_factory=list)
    #: Replaces the measured cell (e.g. "n/a (TUI not available)").
    measured_text: str | None = None
    baseline_text: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:g} {unit}"


def format_table(rows: Sequence[Row]) -> str:
    """A markdown table (it reads fine in a terminal too) plus numbered notes."""
    header = ["figure", "measured (median of N)", "baseline (median, same run)"]
    header += ["ratio", "target", "met?"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes: list[str] = []
    for row in rows:
        measured = row.measured_text or fmt_value(row.measured, row.unit)
        if row.measured is not None and row.n:
            measured += f" (N={row.n})"
        if row.baseline_text is not None:
            baseline = row.baseline_text
        elif row.baseline is None:
            baseline = "—"
        else:
            baseline = fmt_value(row.baseline, row.unit)
            if row.baseline_n:
                baseline += f" (N={row.baseline_n})"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
        met = {True: "yes", False: "**NO**", None: "n/a"}[row.met]
        cells = [row.figure, measured, baseline, ratio, row.target, met]
        lines.append("| " + " | ".join(cells) + " |")
        notes.extend(f"{row.figure}: {note}" for note in row.notes)
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines)


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the benchmark dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def cleanup_on_signals() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C does, so every ``finally`` runs."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)


def timed(fn: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    uname = os.uname()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_gb:.0f} GB RAM, {uname.sysname} {uname.release}, "
        f"Python {sys.version.split()[0]}; load average before the run: {load}"
    )


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and smaller loads (a smoke run)"
    )
    parser.add_argument(
        "--hermes", type=int, default=200, metavar="N", help="simulated Hermes processes (~200)"
    )
    parser.add_argument(
        "--sleepers", type=int, default=1000, metavar="N", help="unrelated sleeping processes"
    )
