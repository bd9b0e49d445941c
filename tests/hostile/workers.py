"""Bare simulated slash workers started straight from the test: children of
pytest, so with no Hermes host above them they are orphans. Quick to start in
bulk (no dashboard round trip); every one is registered and killed in teardown."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from hermes_top.core.procfs import read_cmdline
from hermes_top.sim import Simulation
from hermes_top.sim.tracking import start_ticks
from tests.core.helpers import sim_env
from tests.harness import REGISTRY, kill_exact, wait_until


def _runs_worker(pid: int) -> bool:
    argv = read_cmdline(pid)
    return bool(argv) and "tui_gateway.slash_worker" in argv[:3]


@contextmanager
def bare_workers(
    sim: Simulation, count: int, *, ignore_term: bool = False, extra_args: tuple[str, ...] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = sim_env(sim)
    if ignore_term:
        env["HERMES_SIM_IGNORE_TERM"] = "1"
    started: list[subprocess.Popen[bytes]] = []
    identities: list[tuple[int, int]] = []
    try:
        for n in range(count):
            argv = [sim.python, "-m", "tui_gateway.slash_worker"]
            argv += ["--session-key", f"20260101_000000_{n:06x}", *extra_args]
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=sim.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(proc)
            start = start_ticks(proc.pid)
            if start is not None:
                REGISTRY.register_identity(proc.pid, start, "bare worker")
                identities.append((proc.pid, start))
        # Until each one has exec'd, a scan sees the fork of pytest, not a worker.
        for proc in started:
            wait_until(lambda p=proc: _runs_worker(p.pid), f"worker {proc.pid} to exec")
        yield started
    finally:
        for pid, start in identities:
            kill_exact(pid, start)  # only if it is still the process we started
        for proc in started:
            proc.wait(timeout=10)
