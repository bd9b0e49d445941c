"""Simulated ``hermes dashboard`` (hermes-top test double, stdlib only).

``python -m hermes_cli.main dashboard --port P --no-open``: reads line-JSON
requests on stdin and answers each with one line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import _hermes_sim as hs

from hermes_cli.web import WebFront, session_row

Reply = dict[str, Any]


def lower_nofile() -> None:
    soft = os.environ.get("HERMES_SIM_FD_SOFT")
    if soft:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = int(soft)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Tab:
    def __init__(self, kind: str, key: str) -> None:
        self.kind, self.key = kind, key
        self.opened = time.time()
        #: False once the dashboard forgot the session (``forget_tab``): its
        #: worker keeps running, no longer listed — an abandoned worker.
        self.listed = True
        self.head: hs.Child | None = None  # spawn path: node (or the entry when there is no node)
        self.lines: hs.Lines | None = None
        self.master: int | None = None
        self.workers: list[hs.Child] = []

    def relay(self) -> tuple[hs.Child, hs.Lines]:
        """The head process of a spawn-path tab and its reply lines."""
        if self.head is None or self.lines is None:
            raise ValueError(f"a {self.kind} tab has no tui or entry to talk to")
        return self.head, self.lines


class Dashboard:
    def __init__(self) -> None:
        self.root = os.environ["HERMES_SIM_ROOT"]
        self.python = os.environ["HERMES_PYTHON"]
        self.node = os.environ.get("HERMES_SIM_NODE") or None
        self.tabs: dict[int, Tab] = {}
        self.next_tab = 1
        self.fillers: list[int] = []
        self.zombies: list[int] = []  # pids spawned and deliberately never waited for

    def run(self, port: int) -> None:
        wake = hs.wake_on_sigchld()
        ctl = hs.Lines(0)
        self.serve(port)
        hs.send({"ready": hs.me(), "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE))})
        while not ctl.eof:
            ready = hs.wait_readable([0, wake], None)
            if wake in ready:
                hs.drain(wake)
                self.reap()
            if 0 in ready:
                ctl.fill(0)
                while (line := ctl.next()) is not None:
                    hs.send(self.handle(line))
        # No control pipe (its owner is gone, or hermes-top relaunched it): go on
        # like a real dashboard until killed; the owner watchdog ends it with the owner.
        while True:
            if wake in hs.wait_readable([wake], None):
                hs.drain(wake)
                self.reap()

    def serve(self, port: int) -> None:
        """The web front hermes-top reads (status, token, session list), if the port is free."""
        try:
            front = WebFront(port, self.sessions)
        except OSError as err:
            print(f"dashboard: no web front on port {port}: {err}", file=sys.stderr, flush=True)
            return
        front.start()

    def sessions(self) -> list[dict[str, Any]]:
        """What ``session.active_list`` answers: the sessions of open, listed tabs."""
        return [session_row(t.key, t.opened) for t in list(self.tabs.values()) if t.listed]

    def handle(self, line: str) -> Reply:
        req: dict[str, Any] = {}
        reply: Reply
        try:
            req = json.loads(line)
            reply = getattr(self, "op_" + req.pop("op"))(**req.pop("args", {}))
            reply["ok"] = True
        except Exception as err:  # the dashboard reports errors instead of dying
            print(f"dashboard: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}"}
            reply["errno"] = getattr(err, "errno", None)
        reply["id"] = req.get("id")
        return reply

    def add(self, tab: Tab) -> int:
        tid = self.next_tab
        self.next_tab += 1
        self.tabs[tid] = tab
        return tid

    def tab(self, tid: int) -> Tab:
        if tid not in self.tabs:
            raise KeyError(f"no open tab {tid}")
        return self.tabs[tid]

    def drop(self, tid: int) -> None:
        tab = self.tabs.pop(tid)
        if tab.master is not None:
            os.close(tab.master)
        if tab.head is not None:
            hs.close_pipes(tab.head)

    def reap(self) -> None:
        """Wait for children that exited and close their pipes (frees our FDs)."""
        for tid, tab in list(self.tabs.items()):
            for w in list(tab.workers):
                if w.poll() is not None:
                    hs.close_pipes(w)
                    tab.workers.remove(w)
            if tab.head is not None and tab.head.poll() is not None:
                self.drop(tid)

    # -- requests ------------------------------------------------------------

    def op_ping(self) -> Reply:
        return {"nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)), "tabs": len(self.tabs)}

    def op_stats(self) -> Reply:
        fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
        return {"num_fds": len(os.listdir(fd_dir)) - 1, "fillers": len(self.fillers)}

    def op_open_attach(
        self, key: str, model: str | None = None, ignore_term: bool = False
    ) -> Reply:
        tab = Tab("attach", key)
        w, info = hs.spawn_worker(self.python, key, model, ignore_term, cwd=self.root)
        tab.workers.append(w)
        return {"tab": self.add(tab), "worker": info}

    def op_open_spawn(
        self,
        key: str,
        ignore_term: bool = False,
        uid: int | None = None,
        python: str | None = None,
    ) -> Reply:
        python = python or self.python
        env = dict(os.environ)
        env.update(
            HERMES_TUI_DASHBOARD="1",
            HERMES_TUI_INLINE="1",
            HERMES_PYTHON=python,
            HERMES_CWD=self.root,
            HERMES_SIM_SESSION_KEY=key,
        )
        env.pop("HERMES_SIM_IGNORE_TERM", None)
        env.pop("HERMES_SIM_WORKER_IGNORE_TERM", None)
        if ignore_term:
            env["HERMES_SIM_WORKER_IGNORE_TERM"] = "1"
        tab = Tab("spawn", key)
        exe: str | None
        if self.node:
            if uid is None:
                try:  # a PTY like the real tui's; node makes it its controlling tty
                    tab.master, slave = os.openpty()
                    env["HERMES_SIM_TTY"] = os.ttyname(slave)
                    os.close(slave)
                except OSError:
                    pass
            cwd = os.path.join(self.root, "hermes_cli", "tui_dist")
            argv, exe = ["node", "--expose-gc", os.path.join(cwd, "entry.js")], self.node
        else:
            argv, exe, cwd = [python, "-m", "tui_gateway.entry"], None, self.root
        try:
            head: hs.Child = subprocess.Popen(
                argv,
                executable=exe,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
                cwd=cwd,
                **hs.creds(uid),
            )
        except BaseException:
            if tab.master is not None:
                os.close(tab.master)
            raise
        tab.head, tab.lines = head, hs.Lines(hs.pipe_fd(head.stdout))
        try:
            msg = json.loads(tab.lines.read(hs.TIMEOUT))
            if not msg.get("ok", True):
                raise RuntimeError(msg.get("error"))
            ready = msg["ready"]
        except BaseException as err:
            tail = hs.stderr_tail(head)
            hs.kill_child(head)
            if tab.master is not None:
                os.close(tab.master)
            if isinstance(err, Exception) and tail:
                raise RuntimeError(f"{err}: {tail}") from err
            raise
        tui = {"pid": head.pid, "st": hs.starttime(head.pid)} if self.node else None
        reply = {"tab": self.add(tab), "tui": tui}
        return dict(reply, entry=ready["entry"], worker=ready["worker"])

    def op_restart_worker(
        self,
        tab: int,
        close_old: bool = False,
        ignore_term: bool = False,
        model: str | None = None,
    ) -> Reply:
        t = self.tab(tab)
        if t.kind == "spawn":
            head, lines = t.relay()
            req = {"op": "restart_worker", "close_old": close_old, "ignore_term": ignore_term}
            hs.send(req, hs.pipe_fd(head.stdin))
            reply = json.loads(lines.read(hs.TIMEOUT))
            if not reply.get("ok"):
                raise RuntimeError(reply.get("error"))
            return {"worker": reply["worker"], "closed": reply.get("closed")}
        old = t.workers[-1] if t.workers else None
        w, info = hs.spawn_worker(self.python, t.key, model, ignore_term, cwd=self.root)
        t.workers.append(w)
        closed = None
        if close_old and old is not None:
            t.workers.remove(old)
            hs.stop_child(old)
            closed = old.pid
        return {"worker": info, "closed": closed}

    def op_forget_tab(self, tab: int) -> Reply:
        """The leak the seed issue has: the session is dropped, its worker is not."""
        self.tab(tab).listed = False
        return {}

    def op_close_tab(self, tab: int) -> Reply:
        t = self.tab(tab)
        if t.kind == "attach":
            for w in t.workers:
                hs.stop_child(w)
            self.tabs.pop(tab)
            return {}
        head, lines = t.relay()
        try:
            hs.send({"op": "close"}, hs.pipe_fd(head.stdin))
            lines.read(hs.TIMEOUT)
            head.wait(hs.TIMEOUT)
        except Exception:
            head.kill()
            head.wait()
        self.drop(tab)
        return {}

    def op_kill_tui(self, tab: int) -> Reply:
        """SIGKILL a tab's tui, as a crash or a careless close does; reap it."""
        t = self.tab(tab)
        if t.head is None:
            raise ValueError("attach tabs have no tui")
        head = t.head
        head.kill()
        head.wait()
        self.drop(tab)
        return {"killed": head.pid}

    def op_zombie_tui(self) -> Reply:
        """Start a tui that exits at once and never wait for it: ``[node] <defunct>``."""
        env = dict(os.environ, HERMES_SIM_EXIT_AT_ONCE="1")
        if self.node:
            js = os.path.join(self.root, "hermes_cli", "tui_dist", "entry.js")
            path, argv = self.node, ["node", "--expose-gc", js]
        else:
            path = os.path.join(self.root, "fakebin", "node")
            argv = [path, "-S", "-c", "pass"]
        pid = os.posix_spawn(path, argv, env)
        self.zombies.append(pid)
        st = hs.starttime(pid)
        deadline = time.monotonic() + hs.TIMEOUT
        while os.path.isdir("/proc") and time.monotonic() < deadline:
            fields = hs.read_stat(pid)
            if fields is None or fields[0] == b"Z":
                break
            time.sleep(0.002)
        return {"zombie": {"pid": pid, "st": st}}

    def op_fill_fds(self, n: int) -> Reply:
        opened, emfile = 0, False
        for _ in range(n):
            try:
                self.fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as err:
                print(f"dashboard: fill_fds: {err}", file=sys.stderr, flush=True)
                emfile = True
                break
            opened += 1
        return {"opened": opened, "emfile": emfile, "held": len(self.fillers)}

    def op_release_fds(self, n: int | None = None) -> Reply:
        n = len(self.fillers) if n is None else min(n, len(self.fillers))
        for _ in range(n):
            os.close(self.fillers.pop())
        return {"closed": n, "held": len(self.fillers)}


def main() -> None:
    ap = argparse.ArgumentParser(prog="hermes")
    ap.add_argument("-p", "--profile")
    ap.add_argument("command", choices=["dashboard", "serve"])
    ap.add_argument("--port", type=int, default=9119)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--no-open", action="store_true")
    ap.add_argument("--tui", action="store_true")
    args = ap.parse_args()
    lower_nofile()
    hs.watch_owner()
    Dashboard().run(args.port)


if __name__ == "__main__":
    main()
