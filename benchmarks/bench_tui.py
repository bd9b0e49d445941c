"""Rows 5-7: the TUI's idle CPU (at the standard load and at 10,000 processes),
start-to-first-painted-table time and peak RSS.

The real TUI runs in a pseudo-terminal (200x50): ``hermes-top --interval 1
--readonly``, unscoped, exactly as a user starts it. We read the PTY output as
it is written and look for the header's "N procs" text, which the TUI draws
only once the first scan's table is applied; its arrival time, minus the time
just before the process was spawned, is "start to first painted table".

Idle CPU: once every process of the load is past a minute old (SETTLED_AGE_S:
younger ages change every second and repaint every visible row) and the TUI
has painted and settled, its own CPU time (user + system, all threads) over
60 s, sampled in 10 s windows; the figure is the whole-window average, in % of
one core, with the median window in the notes.
htop (``htop -d 10``: 1 s refresh) runs in its own PTY at the same time, same
load, as the baseline, when it is installed; otherwise that baseline is
skipped. Target (issue 14): <= 2 % of a core and <= 0.25x htop. Row 5b does
the same with unrelated sleepers added up to 10,000 processes on the machine
(target <= 3 %; 30 s, or skipped in a quick run), once they are past a minute
old too; the 30 s right after they were added (each is young, so read every
tick) are measured as well and shown in the row's notes. Peak RSS is VmHWM from
/proc/PID/status at the end of the idle run.

Run alone: ``.venv/bin/python benchmarks/bench_tui.py [--quick]``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass

import psutil
from _common import Row, median
from _load import count_processes, run_standalone, start_sleepers, stop_sleepers

#: CSI / OSC / two-byte escape sequences, removed before looking for text.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: Drawn by the header strip once a snapshot has been applied to the table.
PAINTED = re.compile(r"\d+ procs")
HEADER = re.compile(r"\bPID\b")
COLS, LINES = 200, 50


class PtyProcess:
    """A child process on a fresh PTY whose output is drained by a thread."""

    def __init__(self, argv: list[str], env: dict[str, str], watch: dict[str, re.Pattern[str]]):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
        self.master = master
        self.watch = dict(watch)
        self.marks: dict[str, float] = {}
        self.tail = ""
        self._seen = threading.Condition()
        self.started = time.monotonic()
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.pid = self.popen.pid
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        text = ""
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if not ready:
                    if self.popen.poll() is not None:
                        break
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave end is closed (the child exited)
                break
            if not chunk:
                break
            now = time.monotonic()
            text = (text + _ANSI.sub("", chunk.decode("utf-8", "replace")))[-8192:]
            with self._seen:
                for name, pattern in list(self.watch.items()):
                    if pattern.search(text):
                        self.marks[name] = now
                        del self.watch[name]
                self.tail = text
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_mark(self, name: str, timeout: float) -> float | None:
        """Seconds from spawn to when ``name``'s text first appeared, or None."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while name not in self.marks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    return None
                self._seen.wait(min(left, 0.5))
            return self.marks[name] - self.started

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def peak_rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        # Our own child, not yet waited for: its PID cannot have been reused.
        if self.popen.poll() is None:
            with contextlib.suppress(OSError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)
        os.close(self.master)


def tui_available() -> str | None:
    """None if the TUI can be started, else why not."""
    try:
        from hermes_top.tui.app import run_app  # noqa: F401
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def hermes_top_argv() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "hermes-top")
    base = [script] if os.path.exists(script) else [sys.executable, "-m", "hermes_top"]
    return [*base, "--interval", "1", "--readonly"]


def _env(tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXTUAL", "NO_COLOR"))}
    env.update(
        TERM="xterm-256color",
        COLORTERM="truecolor",
        LANG=env.get("LANG", "C.UTF-8"),
        HERMES_TOP_STATE_DIR=os.path.join(tmp, "state"),
        # htop saves its settings on exit: keep it away from the user's config.
        XDG_CONFIG_HOME=os.path.join(tmp, "config"),
    )
    return env


def first_paint(env: dict[str, str], repeats: int) -> tuple[list[float], list[float], str]:
    paints: list[float] = []
    headers: list[float] = []
    why = ""
    for _ in range(repeats):
        tui = PtyProcess(hermes_top_argv(), env, {"painted": PAINTED, "header": HEADER})
        try:
            painted = tui.wait_mark("painted", 30.0)
            header = tui.marks.get("header")
            if painted is None:
                why = f"no 'N procs' on screen within 30 s; last output: {tui.tail[-300:]!r}"
                break
            paints.append(painted)
            if header is not None:
                headers.append(header - tui.started)
        finally:
            tui.stop()
    return paints, headers, why


@dataclass
class Idle:
    """What one process did during the idle window."""

    pct: float
    windows: list[float]
    peak_rss_mb: float | None


@dataclass
class IdleRun:
    seconds: float = 0.0
    tui: Idle | None = None
    htop: Idle | None = None
    error: str | None = None
    htop_error: str | None = None


def idle_run(env: dict[str, str], seconds: float, window: float) -> IdleRun:
    """TUI and (if installed) htop side by side; CPU % per window and peak RSS."""
    out = IdleRun()
    procs: dict[str, PtyProcess] = {}
    try:
        procs["tui"] = PtyProcess(hermes_top_argv(), env, {"painted": PAINTED})
        htop = shutil.which("htop")
        if htop:
            procs["htop"] = PtyProcess([htop, "-d", "10"], env, {"painted": HEADER})
        if procs["tui"].wait_mark("painted", 30.0) is None:
            out.error = f"the TUI never painted; last output: {procs['tui'].tail[-300:]!r}"
            return out
        if "htop" in procs and procs["htop"].wait_mark("painted", 10.0) is None:
            out.htop_error = "htop never painted its header"
            procs.pop("htop").stop()
        time.sleep(3.0)  # settle: the first scans and layout are not "idle"
        windows: dict[str, list[float]] = {name: [] for name in procs}
        last = {name: p.cpu_seconds() for name, p in procs.items()}
        last_t = time.monotonic()
        begin_cpu, begin_t = dict(last), last_t
        end = last_t + seconds
        while (now := time.monotonic()) < end:
            time.sleep(min(window, end - now))
            t = time.monotonic()
            for name, p in procs.items():
                cpu = p.cpu_seconds()
                windows[name].append((cpu - last[name]) / (t - last_t) * 100)
                last[name] = cpu
            last_t = t
        out.seconds = last_t - begin_t
        for name, p in procs.items():
            pct = (last[name] - begin_cpu[name]) / out.seconds * 100
            setattr(out, name, Idle(pct, windows[name], p.peak_rss_mb()))
    finally:
        for p in procs.values():
            p.stop()
    return out


def _cpu_row(figure: str, idle: IdleRun, limit: float, of_htop: float | None) -> Row:
    target = f"<= {limit:g} % of a core" + (f", <= {of_htop:g}x htop" if of_htop else "")
    row = Row(figure, None, None, "%", target, None)
    if idle.tui is None:
        row.measured_text = "n/a (TUI did not paint)"
        row.notes.append(idle.error or "no measurement")
        return row
    tui = idle.tui
    met = tui.pct <= limit
    if of_htop is not None and idle.htop is not None:
        met = met and tui.pct <= of_htop * idle.htop.pct
    row.measured, row.n, row.met = tui.pct, len(tui.windows), met
    row.notes.append(
        f"% of one core over {idle.seconds:.0f} s (N = {len(tui.windows)} windows, "
        f"median window {median(tui.windows):.2f} %, max {max(tui.windows):.2f} %)"
    )
    if idle.htop is not None:
        row.baseline, row.baseline_n = idle.htop.pct, len(idle.htop.windows)
        row.notes.append(
            f"baseline: `htop -d 10` in its own PTY at the same time (median window "
            f"{median(idle.htop.windows):.2f} %); htop peak RSS "
            f"{idle.htop.peak_rss_mb or 0:.1f} MB"
        )
    elif idle.htop_error:
        row.baseline_text = "n/a (htop failed)"
        row.notes.append(idle.htop_error)
    else:
        row.baseline_text = "n/a (htop not installed)"
    return row


#: Row 5b: unrelated processes on the machine (issue 14).
MANY_PROCESSES = 10_000


def idle_at_many(env: dict[str, str], seconds: float) -> tuple[IdleRun, IdleRun, int, str]:
    """Row 5b's runs: sleepers added up to MANY_PROCESSES, then the TUI idle twice:
    at once (every sleeper is young: a process under ARGV_SETTLE_S may still exec,
    so it is read every tick) and once every sleeper is past a minute old, as row
    5's load (the figure). (settled run, run at once, processes, note)."""
    begin = time.perf_counter()
    sleepers = start_sleepers(max(0, MANY_PROCESSES - count_processes()))
    try:
        spawned = time.perf_counter() - begin
        ready = time.monotonic()
        total = count_processes()
        at_once = idle_run(env, seconds, 10.0)
        waited = wait_settled(ready)
        idle = idle_run(env, seconds, 10.0)
        note = f"{len(sleepers)} sleepers added in {spawned:.0f} s"
        return idle, at_once, total, note + (f"; {waited}" if waited else "")
    finally:
        stop_sleepers(sleepers)


#: The idle windows begin once the load's youngest process is this old: past a
#: minute an age changes once a minute; under one it changes every second, and
#: each visible row is repainted every second (an all-day TUI rarely sees that).
SETTLED_AGE_S = 65.0


def wait_settled(load_ready_at: float | None) -> str | None:
    """Sleep until the load has settled; what was waited, for the row's notes."""
    left = 0.0 if load_ready_at is None else load_ready_at + SETTLED_AGE_S - time.monotonic()
    if left <= 0:
        return None
    time.sleep(left)
    return f"waited {left:.0f} s for every process of the load to be past a minute old"


def run(quick: bool, load_ready_at: float | None = None) -> list[Row]:
    seconds = 15.0 if quick else 60.0
    cpu_fig = f"5. TUI idle CPU, 1 s refresh, over {seconds:g} s"
    many_fig = f"5b. the same at {MANY_PROCESSES:,} processes, over 30 s"
    paint_fig = "6. TUI start to first painted table"
    rss_fig = "7. TUI peak RSS (VmHWM)"
    missing = tui_available()
    if missing is not None:
        rows = [
            Row(cpu_fig, None, None, "%", "<= 2 % of a core", None),
            Row(many_fig, None, None, "%", "<= 3 % of a core", None),
            Row(paint_fig, None, None, "s", "<= 0.5 s", None),
            Row(rss_fig, None, None, "MB", "<= 100 MB", None),
        ]
        for row in rows:
            row.measured_text = "n/a (TUI not available)"
        rows[0].notes.append(missing)
        return rows
    with tempfile.TemporaryDirectory(prefix="hermes-bench-tui-") as tmp:
        env = _env(tmp)
        paints, headers, why = first_paint(env, 2 if quick else 5)
        settled = wait_settled(load_ready_at)
        idle = idle_run(env, seconds, 5.0 if quick else 10.0)
        many_error = "not in a quick run"
        many = None
        if not quick:
            try:
                many = idle_at_many(env, 30.0)
            except OSError as err:  # a process limit (ulimit -u, pid_max) below 10,000
                many_error = f"could not start the sleepers: {err}"

    paint = Row(paint_fig, None, None, "s", "<= 0.5 s", None)
    if paints:
        paint.measured, paint.n = median(paints), len(paints)
        paint.met = paint.measured <= 0.5
        note = f"spawn to 'N procs' on the PTY; runs {', '.join(f'{p:.2f}' for p in paints)} s"
        if headers:
            note += f"; the table header (empty) appeared after {median(headers):.2f} s"
        paint.notes.append(note)
    else:
        paint.measured_text = "n/a (TUI did not paint)"
        paint.notes.append(why)

    rss = Row(rss_fig, None, None, "MB", "<= 100 MB", None)
    if idle.tui is not None and idle.tui.peak_rss_mb is not None:
        peak = idle.tui.peak_rss_mb
        rss.measured, rss.n, rss.met = peak, 1, peak <= 100.0
        rss.notes.append(f"VmHWM after the {seconds:g} s idle run (htop's is in row 5's notes)")
    else:
        rss.measured_text = "n/a (TUI did not run)"
    if many is None:
        many_row = Row(many_fig, None, None, "%", "<= 3 % of a core", None)
        many_row.measured_text = f"n/a ({many_error})"
    else:
        many_row = _cpu_row(many_fig, many[0], 3.0, None)
        many_row.notes.append(f"{many[2]:,} processes on the machine ({many[3]})")
        at_once = many[1]
        if at_once.tui is not None:
            many_row.notes.append(
                f"started right after the sleepers, while they were young: "
                f"{at_once.tui.pct:.2f} % over {at_once.seconds:.0f} s (windows "
                f"{', '.join(f'{w:.1f}' for w in at_once.tui.windows)} %)"
            )
    cpu_row = _cpu_row(cpu_fig, idle, 2.0, 0.25)
    if settled:
        cpu_row.notes.append(settled)
    return [cpu_row, many_row, paint, rss]


def main() -> None:
    run_standalone(__doc__, lambda args: run(args.quick, args.load_ready_at))


if __name__ == "__main__":
    main()
