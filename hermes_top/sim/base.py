"""What every part of a ``Simulation`` shares: roles, the dashboard and tab
records, and the helpers the dashboard, tab and leak methods are built on.

``Simulation`` (scenario.py) is assembled from one class per job, each built on
the one before: ``SimBase`` here, ``Dashboards`` (dashboards.py: dashboards and
their tabs), ``LeakModes`` (leaks.py), then the lifecycle in scenario.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes_top.core.procfs import start_ticks
from hermes_top.sim.control import ControlChannel
from hermes_top.sim.errors import SimError
from hermes_top.sim.tracking import IS_LINUX, ProcessRegistry, Tracked

#: Roles, as hermes_top.core.model.Role spells them.
DASHBOARD, TUI, ENTRY, WORKER = "dashboard", "tui", "gateway_entry", "slash_worker"
#: Expected classifications, as hermes_top.core.model.State spells them.
LIVE, STALE, ORPHAN, ZOMBIE = "live", "stale", "orphan", "zombie"
ABANDONED = "abandoned"
#: The hermes-agent the simulated dashboards behave like: its workers are the
#: dashboard's children, it lists its sessions, and it closes a dead worker's pipes.
SIM_HERMES_VERSION = "0.19.0"
#: Inbound connections a browser holds per open tab (pty, ws, events), measured on 0.19.
BROWSER_CONNECTIONS_PER_TAB = 3

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
    #: The connections "the browser" (this process) holds while the tab is open.
    browser: list[socket.socket] = field(default_factory=list, repr=False)

    def leave(self) -> None:
        """The browser goes away: its connections to the dashboard close."""
        for conn in self.browser:
            conn.close()
        self.browser.clear()


class SimBase:
    """The state every part of a simulation reads; ``Simulation.__init__`` sets it."""

    root: Path
    python: str
    node: str | None
    has_node: bool
    fd_soft_limit: int | None
    request_timeout: float
    registry: ProcessRegistry
    dashboards: list[SimDashboard]
    tabs: list[SimTab]
    _lock: threading.RLock
    _closed: bool
    #: uid -> an interpreter that uid may run (see LeakModes._python_for).
    _user_pythons: dict[int, str]

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
            HERMES_SIM_VERSION=SIM_HERMES_VERSION,
            HERMES_SIM_TIMEOUT=str(self.request_timeout),
        )
        env.update(extra)
        return env

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
        if not poll_until(cond, timeout):
            raise SimError(f"timed out waiting for {what}")


def poll_until(cond: Callable[[], bool], timeout: float) -> bool:
    """Poll ``cond`` with a short backoff (1 ms doubling to 50 ms) until it holds
    (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def tab_pids(t: SimTab) -> list[int]:
    return [p for p in (t.tui_pid, t.entry_pid, *t.worker_pids) if p is not None]


def close_popen_pipes(p: subprocess.Popen[bytes]) -> None:
    for f in (p.stdin, p.stdout, p.stderr):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
