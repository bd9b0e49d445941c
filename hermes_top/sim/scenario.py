"""A real-process model of a leaking Hermes dashboard (see ``hermes_top.sim``)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hermes_top.sim.control import ControlChannel
from hermes_top.sim.errors import SimCleanupError, SimError, SimUnsupported
from hermes_top.sim.package_tree import write_tree
from hermes_top.sim.tracking import (
    IS_LINUX,
    ProcessRegistry,
    Tracked,
    become_subreaper,
    proc_state,
    start_ticks,
)

if TYPE_CHECKING:
    from hermes_top.sim.leak_rate import LeakRate

#: Roles, as hermes_top.core.model.Role spells them.
DASHBOARD, TUI, ENTRY, WORKER = "dashboard", "tui", "gateway_entry", "slash_worker"
#: Expected classifications, as hermes_top.core.model.State spells them.
LIVE, STALE, ORPHAN, ZOMBIE = "live", "stale", "orphan", "zombie"

#: The ``nobody`` account, owner of the other-user orphan.
NOBODY_UID = 65534


def new_session_key() -> str:
    """A session key like Hermes makes: ``%Y%m%d_%H%M%S_`` + 6 hex digits."""
    return time.strftime("%Y%m%d_%H%M%S_") + secrets.token_hex(3)


def base_interpreter() -> str:
    """The real interpreter behind this one (not a venv's wrapper symlink)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(base)


class SimDashboard:
    """One simulated dashboard process and its control channel."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        port: int,
        command: str,
        fd_soft_limit: int | None,
        log_path: Path,
    ) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.port = port
        self.command = command
        #: The soft NOFILE limit it was asked to run with (None: inherited).
        self.fd_soft_limit = fd_soft_limit
        self.log_path = log_path
        self.channel = ControlChannel(popen, f"dashboard {popen.pid}", log_path)
        #: (soft, hard) NOFILE limits the dashboard reported at start.
        self.nofile: tuple[int, int] = (-1, -1)

    def __repr__(self) -> str:
        return f"SimDashboard(pid={self.pid}, port={self.port})"


@dataclass(eq=False)
class SimTab:
    """One chat tab: its processes, newest worker last.

    ``path`` is ``spawn`` (node -> entry -> worker), ``attach`` (worker directly
    under the dashboard) or ``entry`` (no node on PATH: the dashboard starts the
    entry itself; only used internally to make orphans).
    ``state`` is ``open``, ``leaked`` (tui killed, the rest orphaned) or ``closed``.
    """

    dashboard_pid: int
    path: str
    session_key: str
    tui_pid: int | None
    entry_pid: int | None
    worker_pids: list[int]
    tab_id: int
    state: str = "open"
    uid: int | None = None
    _dashboard: SimDashboard | None = field(default=None, repr=False)


_LIVE_SIMULATIONS: set[Simulation] = set()


@atexit.register
def _close_leftover_simulations() -> None:
    for sim in list(_LIVE_SIMULATIONS):
        try:
            sim.close()
        except Exception as err:  # last resort: report, keep closing the others
            print(f"hermes-sim: cleanup at exit: {err}", file=sys.stderr)


class Simulation:
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
        self.node: str | None = shutil.which("node") if use_node else None
        self.has_node = self.node is not None
        self.is_subreaper = become_subreaper() if subreaper else False
        self.registry = ProcessRegistry()
        self.dashboards: list[SimDashboard] = []
        self.tabs: list[SimTab] = []
        self._lock = threading.RLock()
        self._closed = False
        self._cleaned = False
        self._leak_rate: LeakRate | None = None
        self._user_pythons: dict[int, str] = {}
        # resolve(): argv shows the real path (/tmp may be a symlink, e.g. on macOS).
        self.root = Path(tempfile.mkdtemp(prefix="hermes-sim-", dir=tmp_parent)).resolve()
        self._root_prefix = str(self.root) + os.sep
        _LIVE_SIMULATIONS.add(self)
        try:
            self.python = str(write_tree(self.root, base_interpreter()))
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

    # -- environment ---------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "HERMES_", "NODE_OPTIONS", "VIRTUAL_ENV"))
        }
        owner_start = start_ticks(os.getpid()) if IS_LINUX else None
        env.update(
            PYTHONPATH=str(self.root),
            PYTHONDONTWRITEBYTECODE="1",
            HERMES_SIM_ROOT=str(self.root),
            HERMES_PYTHON=self.python,
            HERMES_SIM_NODE=self.node or "",
            HERMES_SIM_OWNER=f"{os.getpid()}:{owner_start if owner_start is not None else ''}",
            HERMES_SIM_TIMEOUT=str(self.request_timeout),
        )
        env.update(extra)
        return env

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

    # -- dashboards ----------------------------------------------------------

    def start_dashboard(
        self,
        port: int | None = None,
        fd_soft_limit: int | None = None,
        *,
        command: str = "dashboard",
    ) -> SimDashboard:
        """Start ``<python> -m hermes_cli.main dashboard --port P --no-open``.

        ``port`` defaults to 9119, 9120, ... (nothing listens on it).
        ``fd_soft_limit`` defaults to the simulation's; 0 keeps the inherited limit.
        """
        self._check_open()
        with self._lock:
            if port is None:
                port = 9119 + len(self.dashboards)
            soft = self.fd_soft_limit if fd_soft_limit is None else fd_soft_limit
            log_path = self.root / "logs" / f"dashboard-{port}-{len(self.dashboards)}.log"
        extra = {"HERMES_SIM_FD_SOFT": str(soft)} if soft else {}
        argv = [self.python, "-m", "hermes_cli.main", command, "--port", str(port), "--no-open"]
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.root,
                env=self._env(**extra),
                start_new_session=True,  # like a launchd/systemd service: no terminal signals
            )
        dash = SimDashboard(popen, port, command, soft or None, log_path)
        try:
            ready = dash.channel.read_message(self.request_timeout)
            self.registry.add(popen.pid, ready["ready"]["st"], DASHBOARD, LIVE, popen=popen)
            soft_now, hard_now = ready["nofile"]
            dash.nofile = (int(soft_now), int(hard_now))
        except BaseException:
            popen.kill()
            popen.wait()
            _close_popen_pipes(popen)
            raise
        with self._lock:
            self.dashboards.append(dash)
        return dash

    def kill_dashboard(self, d: SimDashboard) -> None:
        """SIGKILL a dashboard: its attach workers and tuis become orphans (reparented
        to the subreaper) and its zombie children are reaped by the subreaper."""
        t = self._tracked(d.pid)
        self.registry.signal(t, signal.SIGKILL)
        d.popen.wait()
        _close_popen_pipes(d.popen)
        with self._lock:
            for tab in self.tabs:
                if tab.dashboard_pid == d.pid and tab.state == "open":
                    tab.state = "leaked"
                    self._set_expected(_tab_pids(tab), ORPHAN)

    def dashboard_fd_count(self, d: SimDashboard) -> int:
        """Open FDs of the dashboard, as it counts them itself."""
        return int(self._request(d, "stats")["num_fds"])

    def fill_fds(self, d: SimDashboard, n: int) -> int:
        """Open up to ``n`` extra FDs (/dev/null) in the dashboard to bring it near
        its limit; stops early at EMFILE. Returns how many it opened."""
        return int(self._request(d, "fill_fds", n=n)["opened"])

    def release_fds(self, d: SimDashboard, n: int | None = None) -> int:
        """Close ``n`` (default all) of the FDs ``fill_fds`` opened. Returns how many."""
        return int(self._request(d, "release_fds", n=n)["closed"])

    def fill_fds_to(self, d: SimDashboard, ratio: float) -> int:
        """Fill the dashboard until its FD count is ``ratio`` of its soft limit."""
        soft = d.nofile[0]
        if soft <= 0:
            raise SimError(f"dashboard {d.pid} has no finite soft limit")
        want = int(soft * ratio) - self.dashboard_fd_count(d)
        return self.fill_fds(d, want) if want > 0 else 0

    # -- tabs ----------------------------------------------------------------

    def open_tab(
        self,
        d: SimDashboard,
        path: str | None = None,
        session_key: str | None = None,
        *,
        ignore_term: bool = False,
        model: str | None = None,
    ) -> SimTab:
        """Open a chat tab. ``path``: ``spawn`` (needs node), ``attach``, or None
        (spawn when node is available, else attach). ``ignore_term`` makes its
        worker ignore SIGTERM. ``model`` adds ``--model M`` (attach path)."""
        if path is None:
            path = "spawn" if self.has_node else "attach"
        key = session_key or new_session_key()
        if path == "attach":
            msg = self._request(d, "open_attach", key=key, model=model, ignore_term=ignore_term)
            worker = self._add(msg["worker"], WORKER, LIVE)
            tab = SimTab(d.pid, "attach", key, None, None, [worker], int(msg["tab"]), _dashboard=d)
        elif path == "spawn":
            if not self.has_node:
                raise SimUnsupported("node is not on PATH: only the attach path is simulated")
            tab = self._open_spawn(d, key, ignore_term=ignore_term)
        else:
            raise ValueError(f"path must be 'spawn' or 'attach', not {path!r}")
        with self._lock:
            self.tabs.append(tab)
        return tab

    def _open_spawn(
        self,
        d: SimDashboard,
        key: str,
        *,
        ignore_term: bool = False,
        uid: int | None = None,
        python: str | None = None,
    ) -> SimTab:
        msg = self._request(
            d, "open_spawn", key=key, ignore_term=ignore_term, uid=uid, python=python
        )
        tui = self._add(msg["tui"], TUI, LIVE) if msg.get("tui") else None
        entry = self._add(msg["entry"], ENTRY, LIVE)
        worker = self._add(msg["worker"], WORKER, LIVE)
        path = "spawn" if tui is not None else "entry"
        return SimTab(
            d.pid, path, key, tui, entry, [worker], int(msg["tab"]), uid=uid, _dashboard=d
        )

    def close_tab_leaking(self, t: SimTab) -> None:
        """SIGKILL the tab's tui (the dashboard reaps it): its gateway entry and
        workers are orphaned and reparented to the subreaper. Spawn path only."""
        if t.path != "spawn":
            raise SimError("only spawn-path tabs have a tui to kill; see kill_dashboard")
        self._kill_head(t)

    def _kill_head(self, t: SimTab) -> None:
        self._require_open(t)
        self._request(self._dash(t), "kill_tui", tab=t.tab_id)
        head = t.tui_pid if t.tui_pid is not None else t.entry_pid
        assert head is not None
        with self._lock:
            t.state = "leaked"
            self._set_expected([p for p in _tab_pids(t) if p != head], ORPHAN)
        self._wait_gone([head])

    def close_tab_cleanly(self, t: SimTab) -> None:
        """Close the tab the right way: every process of it exits and is reaped."""
        self._require_open(t)
        self._request(self._dash(t), "close_tab", tab=t.tab_id)
        with self._lock:
            t.state = "closed"
        self._wait_gone(_tab_pids(t))

    def restart_worker(
        self, t: SimTab, close_old: bool = False, *, ignore_term: bool = False
    ) -> int:
        """Start a new worker with the same session key under the same parent.
        ``close_old=False`` leaves the old one running: a stale twin. Returns the new PID."""
        self._require_open(t)
        args = {"tab": t.tab_id, "close_old": close_old, "ignore_term": ignore_term}
        msg = self._request(self._dash(t), "restart_worker", **args)
        new = self._add(msg["worker"], WORKER, LIVE)
        closed = msg.get("closed")
        with self._lock:
            if isinstance(closed, int) and closed in t.worker_pids:
                t.worker_pids.remove(closed)
            self._set_expected(t.worker_pids, STALE)
            t.worker_pids.append(new)
        if isinstance(closed, int):
            self._wait_gone([closed])
        return new

    # -- leak modes ----------------------------------------------------------

    def spawn_stubborn_worker(self, d: SimDashboard, path: str = "attach") -> int:
        """A live worker that ignores SIGTERM (HERMES_SIM_IGNORE_TERM=1). Returns its PID."""
        return self.open_tab(d, path, ignore_term=True).worker_pids[-1]

    def orphan_worker(
        self, d: SimDashboard, *, stopped: bool = False, ignore_term: bool = False
    ) -> int:
        """A slash worker whose parents are all gone: reparented to the subreaper
        (the test process). ``stopped`` leaves it SIGSTOPped (state T)."""
        tab = self._open_spawn(d, new_session_key(), ignore_term=ignore_term)
        with self._lock:
            self.tabs.append(tab)
        self._kill_head(tab)
        if tab.tui_pid is not None and tab.entry_pid is not None:
            # The entry is ours now (subreaper): kill it so the worker is orphaned directly.
            self.registry.signal(self._tracked(tab.entry_pid), signal.SIGKILL)
            self._wait_gone([tab.entry_pid])
        worker = tab.worker_pids[-1]
        if stopped:
            self.registry.signal(self._tracked(worker), signal.SIGSTOP)
            self._wait_for(lambda: proc_state(worker) == "T" or not IS_LINUX, "worker to stop")
        return worker

    def orphan_stopped_worker(self, d: SimDashboard) -> int:
        """An orphaned worker in state T (SIGSTOP): it ignores SIGTERM until continued."""
        return self.orphan_worker(d, stopped=True)

    def zombie_tui(self, d: SimDashboard) -> int:
        """A ``node`` child of the dashboard that exited and is never waited for (Z)."""
        msg = self._request(d, "zombie_tui")
        return self._add(msg["zombie"], TUI, ZOMBIE)

    def other_user_orphan(self, d: SimDashboard, uid: int = NOBODY_UID) -> int:
        """A leaked tab run as another user (``nobody``): its tui is killed, so its
        entry and worker are orphans owned by ``uid``. Returns the worker's PID.
        Raises SimUnsupported unless running as root on Linux."""
        if not IS_LINUX or os.geteuid() != 0:
            raise SimUnsupported("an other-user orphan needs root on Linux")
        python = self._python_for(uid)
        tab = self._open_spawn(d, new_session_key(), uid=uid, python=python)
        with self._lock:
            self.tabs.append(tab)
        self._kill_head(tab)
        return tab.worker_pids[-1]

    def _python_for(self, uid: int) -> str:
        """``<root>/users/<uid>/venv/bin/python3``: an interpreter ``uid`` can run
        (ours may live under /root); it still names the sim root in argv."""
        if uid in self._user_pythons:
            return self._user_pythons[uid]
        import pwd

        gid = pwd.getpwuid(uid).pw_gid
        candidates = [base_interpreter(), shutil.which("python3"), "/usr/bin/python3"]
        candidates += ["/usr/local/bin/python3"]
        link = self.root / "users" / str(uid) / "venv" / "bin" / "python3"
        link.parent.mkdir(parents=True)
        for d in (self.root / "users", link.parent.parent.parent, link.parent.parent, link.parent):
            d.chmod(0o755)
        for cand in dict.fromkeys(c for c in candidates if c):
            real = os.path.realpath(cand)
            if link.is_symlink():
                link.unlink()
            link.symlink_to(real)
            try:
                probe = subprocess.run(
                    [str(link), "-c", "import _hermes_sim, tui_gateway"],
                    env=self._env(),
                    cwd=self.root,
                    user=uid,
                    group=gid,
                    extra_groups=[],
                    capture_output=True,
                    timeout=self.request_timeout,
                )
            except OSError:  # e.g. EACCES: the interpreter lives under /root
                continue
            if probe.returncode == 0:
                self._user_pythons[uid] = str(link)
                return str(link)
        raise SimUnsupported(f"no Python interpreter that uid {uid} may run")

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
                _close_popen_pipes(d.popen)
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
        marker = f"HERMES_SIM_ROOT={self.root}".encode()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in known:
                continue
            pid = int(entry.name)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
                if not any(a.startswith(self._root_prefix) for a in argv):
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker not in f.read().split(b"\0"):
                        continue
                self.registry.add(pid, None, "unknown", "unknown")
            except (OSError, SimError):
                continue

    # -- helpers -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SimError("this simulation is closed")

    def _request(self, d: SimDashboard, op: str, **args: Any) -> dict[str, Any]:
        self._check_open()
        return d.channel.request(op, self.request_timeout, **args)

    def _add(self, info: dict[str, Any], role: str, expected: str) -> int:
        st = info.get("st")
        self.registry.add(int(info["pid"]), st if isinstance(st, int) else None, role, expected)
        return int(info["pid"])

    def _tracked(self, pid: int) -> Tracked:
        t = self.registry.find(pid)
        if t is None:
            raise SimError(f"{pid} is not a running process of this simulation")
        return t

    def _set_expected(self, pids: Sequence[int], expected: str) -> None:
        for pid in pids:
            t = self.registry.find(pid)
            if t is not None:
                t.expected = expected

    def _dash(self, t: SimTab) -> SimDashboard:
        if t._dashboard is None:
            raise SimError("tab has no dashboard")
        return t._dashboard

    @staticmethod
    def _require_open(t: SimTab) -> None:
        if t.state != "open":
            raise SimError(f"tab {t.tab_id} of dashboard {t.dashboard_pid} is {t.state}")

    def _wait_gone(self, pids: Sequence[int], timeout: float = 10.0) -> None:
        def gone() -> bool:
            self.registry.reap()
            return not any(self.registry.find(p) for p in pids)

        self._wait_for(gone, f"{list(pids)} to exit", timeout)

    def _wait_for(self, cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not cond():
            if time.monotonic() >= deadline:
                raise SimError(f"timed out waiting for {what}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _tab_pids(t: SimTab) -> list[int]:
    return [p for p in (t.tui_pid, t.entry_pid, *t.worker_pids) if p is not None]


def _close_popen_pipes(p: subprocess.Popen[bytes]) -> None:
    for f in (p.stdin, p.stdout, p.stderr):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
