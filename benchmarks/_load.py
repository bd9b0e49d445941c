"""The load every benchmark runs under, and the orphan farms of the reap rows.

``StandardLoad`` (issue 6): the simulator with ~200 Hermes processes (4
dashboards, live spawn and attach sessions, 80 orphans and 40 stale twins =
120 leaked) plus 1,000 unrelated ``sleep 600`` processes.

``OrphanFarm``: hundreds of orphaned slash workers for the bulk-reap rows,
cheaper than the simulator's (one small interpreter each, no node, no entry)
but with the real argv shape ``<venv>/bin/python3 -m tui_gateway.slash_worker
--session-key 20260527_141503_a1b2c3``: a launcher starts them in their own
sessions and exits, so they are reparented to us (a child subreaper) with no
Hermes host among their ancestors, which is what an orphan is.

Hygiene: everything started here is killed and reaped on exit, exceptions and
Ctrl-C included. We only signal our own unreaped children (their PIDs cannot
be reused before we wait for them) or go through the simulator; never by name.
The farm holds no pidfds of its own, so the benchmark process's FD table stays
close to a real hermes-top's. Sleepers get PDEATHSIG and farm workers watch our
pidfd, so even a SIGKILLed benchmark leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from _common import (
    Row,
    add_common_args,
    cleanup_on_signals,
    die_with_parent,
    format_table,
)

from hermes_top.core.model import ProcessInfo
from hermes_top.core.procfs import PROC, read_proc
from hermes_top.sim import SimTab, Simulation, become_subreaper

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _session_key(serial: int) -> str:
    """``%Y%m%d_%H%M%S_`` + 6 hex digits, unique within one run."""
    return time.strftime("%Y%m%d_%H%M%S_") + f"{serial & 0xFFFFFF:06x}"


class StandardLoad:
    """The simulator (~``hermes`` Hermes processes) plus ``sleepers`` sleeping processes."""

    def __init__(self, hermes: int = 200, sleepers: int = 1000, log: Log = _quiet) -> None:
        self.hermes_target = hermes
        self.sleeper_target = sleepers
        self.log = log
        self.sim: Simulation | None = None
        self.sleepers: list[subprocess.Popen[bytes]] = []
        self.build_s = 0.0
        #: time.monotonic() when the last process of the load was started.
        self.ready_at = time.monotonic()

    def __enter__(self) -> StandardLoad:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        begin = time.perf_counter()
        if not become_subreaper():
            raise RuntimeError("prctl(PR_SET_CHILD_SUBREAPER) failed: Linux only")
        self._start_sleepers()
        self.sim = Simulation(fd_soft_limit=1024)
        self._start_hermes(self.sim)
        self.build_s = time.perf_counter() - begin
        self.ready_at = time.monotonic()

    def _start_sleepers(self) -> None:
        self.sleepers.extend(start_sleepers(self.sleeper_target))
        self.log(f"started {len(self.sleepers)} sleepers")

    def _start_hermes(self, sim: Simulation) -> None:
        """4 dashboards; 20 spawn + 16 attach live tabs; 40 restarts leave stale
        twins; 40 spawn tabs closed leaking their entry + worker (80 orphans)."""
        scale = self.hermes_target / 200
        n_dash = max(1, round(4 * scale))
        n_live_spawn = round(20 * scale) if sim.has_node else 0
        n_attach = round(16 * scale) if sim.has_node else round(76 * scale)
        n_stale = round(40 * scale)
        n_leaky = round(40 * scale)
        dashes = [sim.start_dashboard() for _ in range(n_dash)]
        live: list[SimTab] = []
        for i in range(n_live_spawn):
            live.append(sim.open_tab(dashes[i % n_dash], "spawn"))
        for i in range(n_attach):
            live.append(sim.open_tab(dashes[i % n_dash], "attach"))
        self.log(f"opened {len(live)} live tabs on {n_dash} dashboards")
        for i in range(n_stale):
            if live:
                sim.restart_worker(live[i % len(live)], close_old=False)
        for i in range(n_leaky):
            d = dashes[i % n_dash]
            if sim.has_node:
                sim.close_tab_leaking(sim.open_tab(d, "spawn"))
            else:  # no node: one orphaned worker per leak, two to keep the count
                sim.orphan_worker(d)
                sim.orphan_worker(d)
        states: dict[str, int] = {}
        for state in sim.expected_states().values():
            states[state] = states.get(state, 0) + 1
        self.log(f"simulated Hermes processes: {len(sim.pids())} {states}")

    def in_scope(self, proc: ProcessInfo) -> bool:
        assert self.sim is not None
        return self.sim.in_scope(proc.identity.cmdline, proc.pid)

    def describe(self) -> str:
        if self.sim is None:
            return "no load"
        states: dict[str, int] = {}
        for state in self.sim.expected_states().values():
            states[state] = states.get(state, 0) + 1
        alive = sum(1 for p in self.sleepers if p.poll() is None)
        parts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        return (
            f"{len(self.sim.pids())} simulated Hermes processes ({parts}) "
            f"+ {alive} unrelated `sleep 600`; {count_processes()} processes on the machine"
        )

    def close(self) -> None:
        errors: list[str] = []
        if self.sim is not None:
            try:
                self.sim.close()
            except Exception as err:  # keep going: the sleepers must die too
                errors.append(f"simulation cleanup: {err}")
            self.sim = None
        stop_sleepers(self.sleepers)
        if errors:
            print("; ".join(errors), file=sys.stderr)


def start_sleepers(n: int, seconds: int = 600) -> list[subprocess.Popen[bytes]]:
    """``n`` unrelated ``sleep`` processes, our children, killed if we die."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    # setpriv execs `sleep 600` with PDEATHSIG set: argv stays `sleep 600`, and
    # without a preexec_fn Popen can use vfork (10x faster for 1,000 starts).
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "KILL"] if setpriv else []
    preexec = None if setpriv else die_with_parent
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            started.append(
                subprocess.Popen(
                    [*prefix, sleep, str(seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=preexec,
                )
            )
    except BaseException:
        stop_sleepers(started)
        raise
    return started


def stop_sleepers(sleepers: list[subprocess.Popen[bytes]]) -> None:
    for p in sleepers:
        if p.poll() is None:
            with contextlib.suppress(OSError):
                p.kill()  # our own child, not yet waited for: the PID is still ours
    for p in sleepers:
        p.wait()
    sleepers.clear()


def count_processes() -> int:
    return sum(1 for e in os.listdir(PROC) if e.isdigit())


#: The stand-in worker: exits on SIGTERM (default disposition) unless told to
#: ignore it; reports "pid" once its disposition is set; exits when the owner goes.
#: It inherits a pidfd of the benchmark process (BENCH_OWNER_FD), so it never has
#: to tell the owner from a process that reused its PID: no /proc parsing here.
_STUB_WORKER = '''"""Benchmark stand-in for tui_gateway.slash_worker (hermes-top benchmarks)."""
import os
import select
import signal

if os.environ.get("BENCH_IGNORE_TERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
owner_fd = int(os.environ["BENCH_OWNER_FD"])
os.write(1, f"{os.getpid()}\\n".encode())
os.close(1)
poller = select.poll()
poller.register(owner_fd, select.POLLIN)
poller.poll()  # until the benchmark process is gone (or the fd is bad: POLLNVAL)
os._exit(0)
'''

#: Starts the workers in their own sessions (like hermes-agent 0.19), passing
#: them the owner's pidfd, and exits without waiting, which orphans them.
_LAUNCHER = """
import os, subprocess, sys
python, root, ready_fd, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), 4
owner_fd = int(os.environ["BENCH_OWNER_FD"])
for key in sys.argv[first:]:
    subprocess.Popen(
        [python, "-m", "tui_gateway.slash_worker", "--session-key", key],
        stdin=subprocess.DEVNULL, stdout=ready_fd, stderr=subprocess.DEVNULL,
        cwd=root, start_new_session=True, pass_fds=(owner_fd,),
    )
os._exit(0)
"""


class OrphanFarm:
    """Orphaned stand-in slash workers, reparented to this (subreaper) process."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hermes-bench-")).resolve()
        self._root_prefix = str(self.root) + os.sep
        pkg = self.root / "tui_gateway"
        pkg.mkdir()
        (pkg / "__init__.py").write_text('"""Benchmark stand-in."""\n')
        (pkg / "slash_worker.py").write_text(_STUB_WORKER)
        python = self.root / "venv" / "bin" / "python3"
        python.parent.mkdir(parents=True)
        base = getattr(sys, "_base_executable", None) or sys.executable
        real = os.path.realpath(base)
        python.symlink_to(real)
        # A pyvenv.cfg makes it a real venv (as Hermes installs are): it skips the base
        # interpreter's site-packages .pth files, which cost ~70 ms a start on some hosts.
        (self.root / "venv" / "pyvenv.cfg").write_text(
            f"home = {os.path.dirname(real)}\ninclude-system-site-packages = false\n"
        )
        self.python = str(python)
        #: Workers started and not yet reaped by us: still our children.
        self.pids: set[int] = set()
        self._serial = 0

    def __enter__(self) -> OrphanFarm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def spawn(self, n: int, *, ignore_term: bool, timeout: float = 120.0) -> list[int]:
        """Start ``n`` orphaned workers; return their PIDs once all are ready."""
        keys = []
        for _ in range(n):
            self._serial += 1
            keys.append(_session_key(self._serial))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "VIRTUAL_ENV", "BENCH_"))
        }
        # A pidfd of ourselves, inherited by every worker: readable once we are gone.
        owner_fd = os.pidfd_open(os.getpid())
        env.update(
            PYTHONPATH=str(self.root),
            PYTHONDONTWRITEBYTECODE="1",
            BENCH_OWNER_FD=str(owner_fd),
            BENCH_IGNORE_TERM="1" if ignore_term else "0",
        )
        read_fd, write_fd = os.pipe()
        try:
            launcher = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _LAUNCHER,
                    self.python,
                    str(self.root),
                    str(write_fd),
                    *keys,
                ],
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=(write_fd, owner_fd),
            )
        finally:
            os.close(write_fd)
            os.close(owner_fd)  # the farm holds no pidfds of its own
        pids: list[int] = []
        try:
            pids = self._read_ready(read_fd, n, timeout)
        finally:
            os.close(read_fd)
            launcher.wait()
        if len(pids) != n:
            raise RuntimeError(f"only {len(pids)} of {n} stand-in workers started")
        # Orphaned: the launcher is gone, so they are ours (subreaper) now.
        for pid in pids:
            proc = read_proc(pid, with_uid=False)
            if proc is None or proc.ppid != os.getpid():
                raise RuntimeError(f"worker {pid} was not reparented to the benchmark process")
        return pids

    def _read_ready(self, fd: int, n: int, timeout: float) -> list[int]:
        pids: list[int] = []
        buf = b""
        deadline = time.monotonic() + timeout
        while len(pids) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                pid = int(line)
                self.pids.add(pid)
                pids.append(pid)
        return pids

    def in_scope(self, proc: ProcessInfo) -> bool:
        """Only this farm's workers (argv names our root and the PID is one we started)."""
        return proc.pid in self.pids and any(
            a.startswith(self._root_prefix) for a in proc.identity.cmdline
        )

    def reap_exited(self, pids: Sequence[int] | None = None) -> None:
        """SIGKILL the given workers (or all) that still run, and reap them.

        They are our children (we are their subreaper) and only we wait for
        them, so until they are reaped their PIDs cannot be reused: ``waitid``
        with WNOWAIT tells whether a PID is still our unreaped child before we
        signal it. ChildProcessError means it was already reaped (psutil's
        ``wait()`` in the baseline reaps its children): nothing to do.
        """
        for pid in list(pids if pids is not None else self.pids):
            self.pids.discard(pid)
            try:
                status = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                continue
            if status is None:  # still running: ours, unreaped
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def close(self) -> None:
        try:
            self.reap_exited()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def run_standalone(
    doc: str | None,
    run: Callable[[argparse.Namespace], list[Row]],
    add_args: Callable[[argparse.ArgumentParser], object] | None = None,
) -> None:
    """`main()` of a single benchmark script: parse the common options, build the
    standard load, run, print the table, clean the load up."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    add_common_args(parser)
    if add_args is not None:
        add_args(parser)
    args = parser.parse_args()
    cleanup_on_signals()
    with StandardLoad(args.hermes, args.sleepers, log=print) as load:
        print(load.describe())
        args.load_ready_at = load.ready_at
        rows = run(args)
    print(format_table(rows))
