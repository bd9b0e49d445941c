"""Dashboards and their chat tabs: starting, filling, closing, killing them."""

from __future__ import annotations

import signal
import socket
import subprocess

from hermes_top.sim.base import (
    ABANDONED,
    BROWSER_CONNECTIONS_PER_TAB,
    DASHBOARD,
    ENTRY,
    LIVE,
    ORPHAN,
    STALE,
    TUI,
    WORKER,
    SimBase,
    SimDashboard,
    SimTab,
    close_popen_pipes,
    new_session_key,
    tab_pids,
)
from hermes_top.sim.errors import SimError, SimUnsupported


class Dashboards(SimBase):
    """Dashboards (``hermes_cli.main dashboard``) and the tabs opened on them."""

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
            close_popen_pipes(popen)
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
        close_popen_pipes(d.popen)
        with self._lock:
            for tab in self.tabs:
                if tab.dashboard_pid == d.pid and tab.state in ("open", "abandoned"):
                    tab.leave()
                    tab.state = "leaked"
                    self._set_expected(tab_pids(tab), ORPHAN)

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
        tab.browser = self._browse(d)
        with self._lock:
            self.tabs.append(tab)
        return tab

    @staticmethod
    def _browse(d: SimDashboard) -> list[socket.socket]:
        """A browser's connections to the dashboard's web front while a tab is open
        (what tells a live tab from a parked one on 0.19); none if it has no front."""
        conns: list[socket.socket] = []
        try:
            for _ in range(BROWSER_CONNECTIONS_PER_TAB):
                conns.append(socket.create_connection(("127.0.0.1", d.port), timeout=2))
        except OSError:
            for conn in conns:
                conn.close()
            return []
        return conns

    def abandon_tab(self, t: SimTab) -> None:
        """The seed's leak: the dashboard drops the tab's session but its worker keeps
        running as the dashboard's child, no longer listed. Attach path only."""
        self._require_open(t)
        if t.path != "attach":
            raise SimError("only attach-path workers are the dashboard's own children")
        self._request(self._dash(t), "forget_tab", tab=t.tab_id)
        t.leave()
        with self._lock:
            t.state = "abandoned"
            self._set_expected(t.worker_pids, ABANDONED)

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
        t.leave()
        self._request(self._dash(t), "kill_tui", tab=t.tab_id)
        head = t.tui_pid if t.tui_pid is not None else t.entry_pid
        assert head is not None
        with self._lock:
            t.state = "leaked"
            self._set_expected([p for p in tab_pids(t) if p != head], ORPHAN)
        self._wait_gone([head])

    def close_tab_cleanly(self, t: SimTab) -> None:
        """Close the tab the right way: every process of it exits and is reaped."""
        self._require_open(t)
        t.leave()
        self._request(self._dash(t), "close_tab", tab=t.tab_id)
        with self._lock:
            t.state = "closed"
        self._wait_gone(tab_pids(t))

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
