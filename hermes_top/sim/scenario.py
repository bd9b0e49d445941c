"""A real-process model of a leaking Hermes dashboard (see ``hermes_top.sim``):
its lifecycle (temp root, start, close), the demo's leak rate, and what exists."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from hermes_top.core.procfs import PROC, read_cmdline, read_environ
from hermes_top.sim.base import (
    SIM_HERMES_VERSION,
    SimDashboard,
    base_interpreter,
    close_popen_pipes,
)
from hermes_top.sim.errors import SimCleanupError, SimError
from hermes_top.sim.leaks import LeakModes
from hermes_top.sim.package_tree import write_tree
from hermes_top.sim.tracking import IS_LINUX, ProcessRegistry, Tracked, become_subreaper

if TYPE_CHECKING:
    from hermes_top.sim.leak_rate import LeakRate

_LIVE_SIMULATIONS: set[Simulation] = set()


@atexit.register
def _close_leftover_simulations() -> None:
    for sim in list(_LIVE_SIMULATIONS):
        try:
            sim.close()
        except Exception as err:  # last resort: report, keep closing the others
            print(f"hermes-sim: cleanup at exit: {err}", file=sys.stderr)


class Simulation(LeakModes):
    """Real processes shaped like a leaking Hermes dashboard. See the package docstring."""

    def __init__(
        self,
        fd_soft_limit: int | None = 256,
        *,
        tmp_parent: str | os.PathLike[str] | None = None,
        use_node: bool = True,
        subreaper: bool = True,
        auto_reap: bool = True,
        request_timeout: float = 20.0,
    ) -> None:
        self.fd_soft_limit = fd_soft_limit
        self.request_timeout = request_timeout
        self.node = shutil.which("node") if use_node else None
        self.has_node = self.node is not None
        self.is_subreaper = become_subreaper() if subreaper else False
        self.registry = ProcessRegistry()
        self.dashboards = []
        self.tabs = []
        self._lock = threading.RLock()
        self._closed = False
        self._cleaned = False
        self._leak_rate: LeakRate | None = None
        self._user_pythons = {}
        # resolve(): argv shows the real path (/tmp may be a symlink, e.g. on macOS).
        self.root = Path(tempfile.mkdtemp(prefix="hermes-sim-", dir=tmp_parent)).resolve()
        self._root_prefix = str(self.root) + os.sep
        _LIVE_SIMULATIONS.add(self)
        try:
            self.python = str(write_tree(self.root, base_interpreter(), SIM_HERMES_VERSION))
            (self.root / "logs").mkdir()
            self._check_python()
        except BaseException:
            self.close()
            raise
        if auto_reap:
            self.registry.start_reaper()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Do not hide the test's own failure behind a cleanup error.
        self.close(raise_on_survivors=exc is None)

    def __repr__(self) -> str:
        return f"Simulation(root={str(self.root)!r})"

    def _check_python(self) -> None:
        """The symlinked interpreter must start and find its stdlib and our tree."""
        probe = subprocess.run(
            [self.python, "-c", "import _hermes_sim, tui_gateway, hermes_cli"],
            env=self._env(),
            cwd=self.root,
            capture_output=True,
            timeout=self.request_timeout,
        )
        if probe.returncode != 0:
            err = probe.stderr.decode(errors="replace").strip()[-500:]
            raise SimError(f"simulated interpreter {self.python} does not start: {err}")

    # -- leak rate (demo) ----------------------------------------------------

    def start_leak_rate(
        self,
        interval_s: float = 3.0,
        max_processes: int = 60,
        *,
        dashboards: Sequence[SimDashboard] | None = None,
        seed: int | None = None,
    ) -> None:
        """Every ``interval_s`` open a tab on one of the dashboards and end it as the
        real bug does (cleanly, leaking orphans, or leaving a stale twin), never
        letting the simulation hold more than ``max_processes`` processes."""
        from hermes_top.sim.leak_rate import LeakRate

        self.stop_leak_rate()
        self._leak_rate = LeakRate(
            self, dashboards or self.dashboards, interval_s, max_processes, seed=seed
        )
        self._leak_rate.start()

    def stop_leak_rate(self) -> None:
        if self._leak_rate is not None:
            self._leak_rate.stop()
            self._leak_rate = None

    @property
    def leak_rate(self) -> LeakRate | None:
        """The running LeakRate thread (``.ticks``, ``.errors``, ``.last_error``), or None."""
        return self._leak_rate

    # -- what exists ---------------------------------------------------------

    def pids(self) -> set[int]:
        """PIDs of every process it started that still exists (running, stopped or
        zombie), orphans included."""
        return {t.pid for t in self.registry.present()}

    def all_pids(self) -> set[int]:
        """Every PID it ever started, gone or not."""
        return {t.pid for t in self.registry.all()}

    def identities(self) -> dict[int, float]:
        """{pid: start identity} of the processes still present (see tracking.process_start)."""
        return {t.pid: t.start for t in self.registry.present()}

    def roles(self) -> dict[int, str]:
        """{pid: role} of the processes still present: dashboard, tui, gateway_entry,
        slash_worker (hermes_top.core.model.Role values)."""
        return {t.pid: t.role for t in self.registry.present()}

    def expected_states(self) -> dict[int, str]:
        """{pid: live | stale | orphan | zombie}: what a correct classifier says."""
        return {t.pid: t.expected for t in self.registry.present()}

    def is_present(self, pid: int) -> bool:
        return self.registry.find(pid) is not None

    def in_scope(self, cmdline: Sequence[str], pid: int) -> bool:
        """True for this simulation's processes: argv names its root, or ``pid`` is
        one it started and still exists with the same identity (zombies have no argv)."""
        if any(arg.startswith(self._root_prefix) for arg in cmdline):
            return True
        return self.registry.find(pid) is not None

    def send_signal(self, pid: int, sig: int) -> bool:
        """Signal one of *its* processes (pidfd). False if gone; SimError if not ours."""
        return self.registry.signal(self._tracked(pid), sig)

    def reap(self) -> list[int]:
        """Reap its processes that exited and are the test process's children."""
        return self.registry.reap()

    def wait_gone(self, pids: Sequence[int], timeout: float = 10.0) -> None:
        """Wait until none of ``pids`` (its own) exists, reaping what is ours."""
        self._wait_gone(pids, timeout)

    # -- teardown ------------------------------------------------------------

    def close(self, *, raise_on_survivors: bool = True, timeout: float = 15.0) -> None:
        """Kill every process it started (orphans included), reap them, remove the
        temp dir. Safe to call twice; runs at exit for simulations never closed."""
        self._closed = True  # no new processes from here on
        if self._cleaned:
            return
        survivors: list[Tracked] = []
        try:
            self.stop_leak_rate()
            self.registry.stop_reaper()
            for _ in range(2):  # the second pass catches children forked mid-kill
                self._adopt_strays()
                survivors = self.registry.kill_all(timeout)
            for d in self.dashboards:
                close_popen_pipes(d.popen)
            for tab in self.tabs:
                tab.leave()
        finally:
            self.registry.close()
            shutil.rmtree(self.root, ignore_errors=True)
        # Only now: if the cleanup was interrupted, atexit runs it again.
        self._cleaned = True
        _LIVE_SIMULATIONS.discard(self)
        if survivors and raise_on_survivors:
            found = {t.pid: t.role for t in survivors}
            raise SimCleanupError(f"simulated processes survived cleanup: {found}", found)

    def _adopt_strays(self) -> None:
        """Register processes it started but never heard of (e.g. forked just as
        their parent was killed): argv names the root AND the environment carries
        this simulation's HERMES_SIM_ROOT, so they are certainly ours."""
        if not IS_LINUX:
            return
        known = {t.pid for t in self.registry.present()}
        for entry in os.scandir(PROC):
            if not entry.name.isdigit() or int(entry.name) in known:
                continue
            pid = int(entry.name)
            try:
                argv = read_cmdline(pid) or ()
                if not any(a.startswith(self._root_prefix) for a in argv):
                    continue
                env = read_environ(pid) or {}
                if env.get("HERMES_SIM_ROOT") != str(self.root):
                    continue
                self.registry.add(pid, None, "unknown", "unknown")
            except (OSError, SimError):  # gone, hidden or unreadable: not provably ours
                continue
