"""The guard's idle cost: `hermes-top --readonly guard --interval 30` on the
standard load, in % of one core, against `ps` once per interval in the same run.

Both run side by side for ``--seconds`` (default 90, three ticks at 30 s) after
the guard's first tick (start-up is not idle). CPU is utime + stime (+ waited
children) from /proc/PID/stat, taken before and after the window. The guard is
read-only and unscoped, as a user would run it (it never signals here); its
journal goes to a temp dir. The baseline is a shell loop
``while :; do ps -eo pid,ppid,stat,args >/dev/null; sleep 30; done``: the cost
of looking at the process table as often, with a tool everybody has.

Target: the guard at most 0.5 % of a core. Not part of run_all.py; run alone:
``.venv/bin/python benchmarks/bench_guard.py [--seconds 90] [--interval 30]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, Row, die_with_parent
from _load import run_standalone

TARGET_PERCENT = 0.5
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[0] is state (field 3): utime is field 14 -> index 11.
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=90.0, help="measured window (90 s)")
    parser.add_argument("--interval", type=float, default=30.0, help="guard --interval (30 s)")


def _wait_for_line(log: Path, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def run(args: argparse.Namespace) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="hermes-top-bench-guard-"))
    log = work / "guard.log"
    env = dict(os.environ, HERMES_TOP_STATE_DIR=str(work / "state"), PYTHONPATH=str(REPO))
    argv = [sys.executable, "-m", "hermes_top", "--readonly", "guard"]
    argv += ["--interval", f"{args.interval:g}", "--no-notify"]
    baseline_script = (
        f"while :; do ps -eo pid,ppid,stat,args >/dev/null; sleep {args.interval:g}; done"
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(log, "wb") as out:
            guard = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        procs.append(guard)
        # The first tick ends with a log line only when it finds something; give it
        # time for the scan either way (the load is built already).
        _wait_for_line(log, "started:", 30)
        time.sleep(min(5.0, args.interval / 2))
        baseline = subprocess.Popen(
            ["sh", "-c", baseline_script], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )  # fmt: skip
        procs.append(baseline)
        g0, b0, t0 = cpu_seconds(guard.pid), cpu_seconds(baseline.pid), time.monotonic()
        time.sleep(args.seconds)
        g1, b1, t1 = cpu_seconds(guard.pid), cpu_seconds(baseline.pid), time.monotonic()
        alive = guard.poll() is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    window = t1 - t0
    guard_pct = (g1 - g0) / window * 100
    base_pct = (b1 - b0) / window * 100
    ticks = max(int(window // args.interval), 1)
    text = log.read_text(errors="replace")
    row = Row(
        f"guard idle CPU at --interval {args.interval:g}",
        guard_pct,
        base_pct,
        "%",
        f"<= {TARGET_PERCENT} %",
        guard_pct <= TARGET_PERCENT and alive,
        n=1,
        baseline_n=1,
    )
    row.notes.append(
        f"{window:.0f} s window, ~{ticks} tick(s): {(g1 - g0) * 1000 / ticks:.0f} ms CPU per "
        f"tick; ps baseline {(b1 - b0) * 1000 / ticks:.0f} ms per round; guard "
        f"{'ran throughout' if alive else 'DIED'}; its log: {text.count(chr(10))} line(s) in {log}"
    )
    return [row]


if __name__ == "__main__":
    run_standalone(__doc__, run, add_args)
