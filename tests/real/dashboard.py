"""Run a real Hermes dashboard as a child of the test process, and look at it.

Everything here is scoped to processes this module can prove are its own:
the dashboard it started, that dashboard's descendants (found by walking
/proc from it), and processes reparented to pytest (a child subreaper) that it
had already pinned. Every such process is pinned with a pidfd the moment it is
first seen (after re-checking its start time and parent), registered in
``tests.harness.REGISTRY``, and only ever signalled through that pidfd — a
reused PID is never hit. Nothing is matched by name, nothing is ``pkill``ed.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import REGISTRY, ProcFacts, proc_facts
from tests.real import browser
from tests.real.fake_llm import MODEL, FakeLLM, ProxyTrap
from tests.real.venvs import Install

#: A chat tab's worker starts a few seconds after the tab opens (agent build first).
WORKER_TIMEOUT = 45.0
STATUS_TIMEOUT = 60.0
#: How often ``owns`` may walk /proc for processes of ours it has not pinned yet.
OWNS_WALK_EVERY_S = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def role_of(argv: tuple[str, ...]) -> str:
    """The harness's own (deliberately simple) reading of a Hermes argv."""
    if not argv:
        return "other"
    exe = os.path.basename(argv[0])
    if exe.startswith("node") and any(
        a.endswith(("/ui-tui/dist/entry.js", "/tui_dist/entry.js")) for a in argv[1:]
    ):
        return "tui"
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] == "tui_gateway.entry":
            return "gateway_entry"
        if arg == "-m" and argv[i + 1] == "tui_gateway.slash_worker":
            return "slash_worker"
    if any(a.endswith("mcp_stdio_watchdog.py") for a in argv[1:]):
        return "mcp_watchdog"
    if any(a.endswith("fake_mcp_server.py") for a in argv[1:]):
        return "mcp_server"
    if "dashboard" in argv[1:4] and any(a.endswith("/bin/hermes") for a in argv[:2]):
        return "dashboard"
    return "other"


def session_key_of(argv: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == "--session-key":
            return argv[i + 1]
    return None


@dataclass(frozen=True)
class Proc:
    """One process of ours, as /proc showed it at a scan."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    tty_nr: int
    state: str
    start: int
    argv: tuple[str, ...]
    comm: str
    role: str
    #: Distance from the dashboard (1 = its child); 0 = reparented away from it.
    depth: int

    @property
    def session_key(self) -> str | None:
        return session_key_of(self.argv)

    @property
    def zombie(self) -> bool:
        return self.state == "Z"


@dataclass
class TabInfo:
    """What opening a tab taught us."""

    tab: browser.Tab
    #: The node TUI started for this tab (None when it reattached to a parked one).
    node_pid: int | None
    #: New slash workers (pid -> session key), and the entry (0.13 spawn path).
    workers: dict[int, str]
    entry_pid: int | None
    #: Seconds from opening the tab to the node process / to the last new worker.
    node_after: float | None
    workers_after: float | None


def _pipe_inodes(pid: int, fds: Iterable[int]) -> set[str]:
    found = set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(target)
    return found


def fd_targets(pid: int) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for name in names:
        with contextlib.suppress(OSError):
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
    return out


def fd_kinds(pid: int) -> dict[str, int]:
    """FD counts by kind: pipe, socket, pty, state.db, log, anon, other."""
    kinds: dict[str, int] = {}
    for target in fd_targets(pid).values():
        if target.startswith("pipe:"):
            kind = "pipe"
        elif target.startswith("socket:"):
            kind = "socket"
        elif target.startswith("/dev/pts/") or target == "/dev/ptmx":
            kind = "pty"
        elif "state.db" in target:
            kind = "state.db"
        elif target.endswith(".log"):
            kind = "log"
        elif target.startswith("anon_inode:"):
            kind = "anon"
        else:
            kind = "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def environ_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().decode(errors="replace").split("\0")
    return dict(item.split("=", 1) for item in items if "=" in item)


def wait_for(cond: Callable[[], Any], what: str, timeout: float, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Dashboard:
    """A real ``hermes dashboard`` on 127.0.0.1, started by (and a child of) this process."""

    def __init__(
        self,
        install: Install,
        workdir: Path,
        llm: FakeLLM,
        trap: ProxyTrap,
        fd_limit: int | None = 128,
        port: int | None = None,
        mcp_server: bool = False,
    ) -> None:
        self.install = install
        self.version = install.version
        self.workdir = workdir
        self.llm = llm
        self.trap = trap
        self.fd_limit = fd_limit
        self.port = port or free_port()
        self.home = workdir / "hermes-home"
        self.tmp = workdir / "tmp"
        self.log_path = workdir / "dashboard.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.started_at = 0.0
        self.ready_after: float | None = None
        self._token: str | None = None
        #: Every process of ours ever pinned: pid -> (start ticks, pidfd).
        self._pinned: dict[int, tuple[int, int]] = {}
        #: Session/group leaders among them, and the earliest start tick seen.
        self._leaders: set[int] = set()
        self._first_start = 1 << 62
        self._walked_at = float("-inf")
        self.tabs: list[TabInfo] = []
        self.mcp_server = mcp_server
        for d in (self.home, self.tmp, workdir / "user-home"):
            d.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.argv, self.cwd, self.env = self._launch_spec()

    # -- set-up ----------------------------------------------------------------
    def _write_config(self) -> None:
        lines = [
            "model:",
            "  provider: custom",
            f"  base_url: {self.llm.base_url}",
            f"  default: {MODEL}",
            "  api_key: dummy-key",
            "security:",
            "  allow_lazy_installs: false",
        ]
        if self.mcp_server:
            script = Path(__file__).with_name("fake_mcp_server.py")
            lines += [
                "mcp_servers:",
                "  fake:",
                f"    command: {self.install.python}",
                f"    args: [{json.dumps(str(script))}]",
            ]
        (self.home / "config.yaml").write_text("\n".join(lines) + "\n")
        if self.install.tui_dir is not None:  # 0.13: no web UI in the wheel
            web = self.workdir / "web"
            (web / "assets").mkdir(parents=True, exist_ok=True)
            (web / "index.html").write_text(
                "<!doctype html><html><head><title>hermes</title></head><body></body></html>\n"
            )

    def _launch_spec(self) -> tuple[list[str], str, dict[str, str]]:
        argv = [str(self.install.hermes), "dashboard"]
        if self.version.startswith(("0.13.", "0.14.", "0.15.")):
            argv.append("--tui")
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--no-open"]
        trap = f"http://127.0.0.1:{self.trap.port}"
        env = {
            "PATH": self.install.env_path("/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.workdir / "user-home"),
            "HERMES_HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            # Never install anything, never leave loopback: every proxy-aware
            # client is sent to a trap on loopback that records and refuses.
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "HERMES_SKIP_NODE_BOOTSTRAP": "1",
            "HTTP_PROXY": trap,
            "HTTPS_PROXY": trap,
            "ALL_PROXY": trap,
            "http_proxy": trap,
            "https_proxy": trap,
            "all_proxy": trap,
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "no_proxy": "127.0.0.1,localhost,::1",
        }
        if self.install.tui_dir is not None:
            env["HERMES_TUI_DIR"] = str(self.install.tui_dir)
            env["HERMES_WEB_DIST"] = str(self.workdir / "web")
        return argv, str(self.home), env

    # -- life cycle ------------------------------------------------------------
    def start(self) -> float:
        """Start it; returns seconds until ``/api/status`` answered."""
        assert self.popen is None or self.popen.poll() is not None, "already running"
        log = self.log_path.open("ab")
        self.started_at = time.monotonic()
        try:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # like a launchd/systemd job: its own session
            )
        finally:
            log.close()
        self.pid = self.popen.pid
        REGISTRY.register(self.pid, f"hermes {self.version} dashboard")
        self._pin(self.pid)
        if self.fd_limit is not None:
            hard = resource.prlimit(self.pid, resource.RLIMIT_NOFILE)[1]
            resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (self.fd_limit, hard))
        self._token = None
        self.ready_after = self._wait_status(STATUS_TIMEOUT)
        return self.ready_after

    def _wait_status(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(
                    f"dashboard exited ({self.popen.returncode}) before answering:\n"
                    + self.log_tail()
                )
            try:
                status, _ = browser.http_get(self.port, "/api/status", timeout=2)
                if status == 200:
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"/api/status silent after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def alive(self) -> bool:
        if self.popen is None:  # adopted: alive while its pin says so
            return bool(self.pid) and not self.exited(self.pid)
        return self.popen.poll() is None

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = browser.page_token(self.port)
        return self._token

    def status(self) -> dict[str, Any]:
        code, body = browser.http_get(self.port, "/api/status")
        assert code == 200, code
        parsed = json.loads(body)
        assert isinstance(parsed, dict)
        return parsed

    # -- pinning -----------------------------------------------------------------
    def _pin(self, pid: int, expect_start: int | None = None) -> bool:
        """Open a pidfd on ``pid`` and keep it if it is still the process we saw."""
        if pid in self._pinned:
            st, _ = self._pinned[pid]
            facts = proc_facts(pid)
            if facts is not None and facts.start == st:
                return True
            self._unpin(pid)  # a new process reused the PID: forget the old pin
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            return False
        facts = proc_facts(pid)
        if facts is None or (expect_start is not None and facts.start != expect_start):
            os.close(fd)
            return False
        self._pinned[pid] = (facts.start, fd)
        if facts.sid == pid or facts.pgid == pid:  # a leader we hold: its session is ours
            self._leaders.add(pid)
        self._first_start = min(self._first_start, facts.start)
        REGISTRY.register_identity(
            pid, facts.start, f"hermes {self.version} {role_of(facts.cmdline)}"
        )
        return True

    def _unpin(self, pid: int) -> None:
        entry = self._pinned.pop(pid, None)
        if entry is not None:
            with contextlib.suppress(OSError):
                os.close(entry[1])

    def _pinned_facts(self, pid: int) -> ProcFacts | None:
        """/proc facts of a pinned pid, only while it is still the pinned process."""
        entry = self._pinned.get(pid)
        facts = proc_facts(pid)
        if entry is None or facts is None or facts.start != entry[0]:
            return None
        return facts

    # -- looking -------------------------------------------------------------
    def _all_stats(self) -> dict[int, ProcFacts]:
        out: dict[int, ProcFacts] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                facts = proc_facts(int(entry.name))
                if facts is not None:
                    out[facts.pid] = facts
        return out

    def processes(self) -> list[Proc]:
        """The dashboard's descendants (pinned as found), plus pinned processes
        that were reparented away from it (to pytest, the subreaper)."""
        table = self._all_stats()
        children: dict[int, list[ProcFacts]] = {}
        for facts in table.values():
            children.setdefault(facts.ppid, []).append(facts)
        found: dict[int, Proc] = {}

        def walk(root: int, depth: int) -> None:
            # ``depth`` > 0: distance below the live dashboard; 0: not below it.
            todo = [(root, depth)]
            while todo:
                parent, d = todo.pop()
                for child in children.get(parent, []):
                    if child.pid in found or child.start < table[parent].start:
                        continue  # younger parent = a reused PID, not the real parent
                    # Pin before trusting: the pidfd is checked against the start
                    # ticks just read, so a PID reused in between is not taken.
                    if not self._pin(child.pid, child.start):
                        continue
                    found[child.pid] = self._proc(child, d + 1 if d or parent == self.pid else 0)
                    todo.append((child.pid, found[child.pid].depth))

        if self.pid and self._pinned_facts(self.pid) is not None:
            walk(self.pid, 0)
        # Pinned processes no longer below the dashboard (reparented to pytest,
        # the subreaper) are still ours, and so is anything they start.
        for pid in list(self._pinned):
            facts = self._pinned_facts(pid)
            if pid == self.pid or pid in found or facts is None:
                continue
            found[pid] = self._proc(facts, 0)
            walk(pid, 0)
        # Children of pytest never seen below the dashboard (born and orphaned
        # between two scans) are ours when they provably come from it: in a
        # session or process group one of our processes leads, or (alive)
        # carrying this dashboard's private HERMES_HOME in their environment.
        me = os.getpid()
        for facts in children.get(me, []):
            if facts.pid in found or facts.pid in self._pinned or facts.start < self._first_start:
                continue
            ours = facts.sid in self._leaders or facts.pgid in self._leaders
            if not ours and facts.state != "Z":
                with contextlib.suppress(OSError):
                    ours = environ_of(facts.pid).get("HERMES_HOME") == str(self.home)
            if ours and self._pin(facts.pid, facts.start):
                found[facts.pid] = self._proc(facts, 0)
                walk(facts.pid, 0)
        return sorted(found.values(), key=lambda p: (p.start, p.pid))

    def owns(self, pid: int) -> bool:
        """``pid`` is a process of this dashboard's, proven as ``processes()`` proves
        it (pinned when found); new ones are looked for first. For a Core's scope."""
        if self._pinned_facts(pid) is not None:
            return True
        # One walk of /proc serves a whole scan's questions: a machine with many
        # other Hermes processes would otherwise cost a walk per stranger. A
        # process of ours born after the walk is seen by the next scan.
        now = time.monotonic()
        if now - self._walked_at >= OWNS_WALK_EVERY_S:
            self._walked_at = now
            self.processes()
        return self._pinned_facts(pid) is not None

    def adopt(self, pid: int) -> None:
        """hermes-top relaunched this dashboard as ``pid`` (a child of pytest, the
        subreaper, carrying our private HERMES_HOME): it is this one from now on."""
        assert self.owns(pid), f"PID {pid} is not provably ours"
        self.pid = pid
        self.popen = None
        self._token = None

    @staticmethod
    def _proc(facts: ProcFacts, depth: int) -> Proc:
        return Proc(
            pid=facts.pid,
            ppid=facts.ppid,
            pgid=facts.pgid,
            sid=facts.sid,
            tty_nr=facts.tty_nr,
            state=facts.state,
            start=facts.start,
            argv=facts.cmdline,
            comm=facts.comm,
            role=role_of(facts.cmdline) if facts.cmdline else f"zombie:{facts.comm}",
            depth=depth,
        )

    def by_role(self, role: str, live_only: bool = True) -> list[Proc]:
        return [p for p in self.processes() if p.role == role and not (live_only and p.zombie)]

    def workers(self, live_only: bool = True) -> list[Proc]:
        return self.by_role("slash_worker", live_only)

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def fd_kinds(self) -> dict[str, int]:
        return fd_kinds(self.pid)

    def pipes_shared_with(self, pid: int) -> set[str]:
        """The dashboard's pipe FDs whose other end is ``pid``'s stdin/stdout/stderr."""
        mine = _pipe_inodes(self.pid, [int(n) for n in os.listdir(f"/proc/{self.pid}/fd")])
        return mine & _pipe_inodes(pid, [0, 1, 2])

    def inbound_connections(self) -> int:
        """ESTABLISHED TCP connections to the dashboard's port held by the dashboard
        (browser websockets, and node/entry connecting back to /api/ws, /api/pub)."""
        inodes = {
            t[len("socket:[") : -1]
            for t in fd_targets(self.pid).values()
            if t.startswith("socket:[")
        }
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                cols = line.split()
                local_port = int(cols[1].rsplit(":", 1)[1], 16)
                if cols[3] == "01" and local_port == self.port and cols[9] in inodes:
                    count += 1
        return count

    def nofile(self) -> tuple[int, int]:
        return resource.prlimit(self.pid, resource.RLIMIT_NOFILE)

    # -- tabs --------------------------------------------------------------------
    def open_tab(
        self,
        sidebar: bool = True,
        attach: str | None = None,
        expect_workers: int | None = None,
        expect_node: bool = True,
        timeout: float = WORKER_TIMEOUT,
    ) -> TabInfo:
        """Open a chat tab like the web UI and wait for the processes it starts."""
        before = {p.pid for p in self.processes()}
        t0 = time.monotonic()
        tab = browser.open_tab(self.port, self.token, self.version, attach=attach, sidebar=sidebar)
        if expect_workers is None:
            expect_workers = (1 if expect_node else 0) + (1 if sidebar else 0)
        node_pid: int | None = None
        node_after: float | None = None
        workers: dict[int, str] = {}
        entry_pid = None
        workers_after = None
        deadline = time.monotonic() + timeout
        while True:
            new = [p for p in self.processes() if p.pid not in before and not p.zombie]
            for p in new:
                if p.role == "tui" and node_pid is None:
                    node_pid, node_after = p.pid, time.monotonic() - t0
                elif p.role == "gateway_entry" and entry_pid is None:
                    entry_pid = p.pid
                elif p.role == "slash_worker" and p.pid not in workers:
                    workers[p.pid] = p.session_key or ""
            done = len(workers) >= expect_workers and (node_pid is not None or not expect_node)
            if done:
                workers_after = time.monotonic() - t0 if workers else None
                break
            if time.monotonic() >= deadline:
                tab.close("rst")
                raise AssertionError(
                    f"tab on {self.version}: after {timeout} s node={node_pid} "
                    f"workers={workers} (wanted {expect_workers}); new={new}\n{self.log_tail()}"
                )
            time.sleep(0.1)
        info = TabInfo(tab, node_pid, workers, entry_pid, node_after, workers_after)
        self.tabs.append(info)
        return info

    def close_tab(self, info: TabInfo, how: str = "clean") -> None:
        info.tab.close(how)

    def rpc(self) -> browser.JsonRpc:
        """A fresh JSON-RPC connection on /api/ws (caller closes ``.ws``)."""
        return browser.JsonRpc(browser.WebSocket(self.port, "/api/ws", {"token": self.token}))

    # -- state.db ------------------------------------------------------------------
    def state_db_rows(self) -> list[dict[str, Any]]:
        path = self.home / "state.db"
        if not path.exists():
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM sessions ORDER BY started_at").fetchall()
            return [dict(r) for r in rows]
        finally:
            conn.close()

    # -- signals (pidfd only) ----------------------------------------------------------
    def signal(self, pid: int, sig: int) -> bool:
        """Signal one pinned process through its pidfd. False if it is gone."""
        entry = self._pinned.get(pid)
        if entry is None:
            raise AssertionError(f"{pid} is not one of ours")
        try:
            signal.pidfd_send_signal(entry[1], sig)
            return True
        except ProcessLookupError:
            return False

    def exited(self, pid: int) -> bool:
        """The pinned process has exited (it may still be an unreaped zombie)."""
        entry = self._pinned.get(pid)
        if entry is None:
            return True
        ready, _, _ = select.select([entry[1]], [], [], 0)
        return bool(ready)

    def wait_exit(self, pids: Iterable[int], timeout: float) -> list[int]:
        """Wait until the pinned ``pids`` exited; returns those still running."""
        left = [p for p in pids if p in self._pinned]
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            self._reap_ours()
            left = [p for p in left if not self.exited(p)]
            if left:
                time.sleep(0.05)
        return left

    def _reap_ours(self) -> None:
        """waitpid() only our pinned processes that are pytest's own children."""
        me = os.getpid()
        for pid, (start, fd) in list(self._pinned.items()):
            if pid == self.pid and self.popen is not None:
                self.popen.poll()
                continue
            facts = proc_facts(pid)
            if facts is not None and facts.start == start and facts.ppid == me:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)

    def stop(self, grace: float = 10.0, kill_descendants: bool = True) -> dict[str, Any]:
        """SIGTERM the dashboard (like launchd/systemd stop), wait ``grace``, SIGKILL it.

        Returns what happened: exit time, and which of its processes outlived it.
        With ``kill_descendants`` everything of ours still running is then killed
        and reaped (the teardown path)."""
        report: dict[str, Any] = {}
        before = self.processes()
        if self.alive():
            t0 = time.monotonic()
            self.signal(self.pid, signal.SIGTERM)
            if self.popen is None:  # adopted (relaunched by hermes-top): not our child
                if self.wait_exit([self.pid], grace):
                    self.signal(self.pid, signal.SIGKILL)
                    self.wait_exit([self.pid], 10)
                    report["sigkill"] = True
            else:
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.signal(self.pid, signal.SIGKILL)
                    self.popen.wait(timeout=10)
                    report["sigkill"] = True
                report["returncode"] = self.popen.returncode
            report["exit_seconds"] = round(time.monotonic() - t0, 2)
        time.sleep(0.3)
        survivors = [p for p in self.processes() if not p.zombie]
        report["survivors"] = survivors
        report["before"] = before
        if kill_descendants:
            self.kill_all()
        return report

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL (+SIGCONT) every pinned process still running; reap the ones that are ours."""
        if self.alive():
            self.signal(self.pid, signal.SIGKILL)
        for pid in list(self._pinned):
            if not self.exited(pid):
                with contextlib.suppress(ProcessLookupError):
                    self.signal(pid, signal.SIGKILL)
                    self.signal(pid, signal.SIGCONT)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        left = self.wait_exit(list(self._pinned), timeout)
        self._reap_ours()
        if left:
            raise AssertionError(f"still running after SIGKILL: {left}")

    def close(self) -> None:
        """Teardown: close tabs, stop everything, release pidfds. Safe to call twice."""
        for info in self.tabs:
            if not info.tab.closed:
                with contextlib.suppress(Exception):
                    info.tab.close("rst")
        try:
            self.stop(grace=5.0, kill_descendants=True)
        finally:
            # A descendant that appeared between the last scan and the kill (a
            # worker spawned at shutdown) or a zombie whose parent died last
            # comes to us (the subreaper): keep scanning, killing and reaping
            # until nothing of ours exists any more.
            deadline = time.monotonic() + 10
            while True:
                left = self.processes()
                if any(not p.zombie for p in left):
                    self.kill_all()
                self._reap_ours()
                left = self.processes()
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            for pid in list(self._pinned):
                self._unpin(pid)


@dataclass
class Observed:
    """A free-form record of facts a test saw (printed with ``-s``, kept in a JSON file)."""

    facts: dict[str, Any] = field(default_factory=dict)

    def note(self, key: str, value: Any) -> None:
        self.facts[key] = value
