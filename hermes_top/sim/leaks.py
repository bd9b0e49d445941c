"""The leak modes: orphans (stopped, stubborn, another user's), zombies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

from hermes_top.sim.base import (
    NOBODY_UID,
    TUI,
    ZOMBIE,
    SimDashboard,
    base_interpreter,
    new_session_key,
)
from hermes_top.sim.dashboards import Dashboards
from hermes_top.sim.errors import SimUnsupported
from hermes_top.sim.tracking import IS_LINUX, proc_state


class LeakModes(Dashboards):
    """Each way the real bug leaves processes behind, on demand."""

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
