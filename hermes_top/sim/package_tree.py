"""The throwaway Hermes package tree the simulated processes run from.

The files are text blobs (stdlib-only Python and a little JavaScript) written
into the simulation's temporary root, so every process's argv has the real
shape (``<python> -m tui_gateway.slash_worker --session-key ...``) and names
the root, which is how a simulation recognises its own processes.

Protocol (line-JSON, one request, one reply):
  test process  -> dashboard      on the dashboard's stdin/stdout
  dashboard     -> node (tui)     on the tab's stdin/stdout pipes, relayed by node
  node          -> gateway entry  the same pipes, passed through
  parent        -> slash worker   the worker prints one ``ready`` line; ``exit`` ends it
Every process reports ``{"pid", "st"}`` (st = start time in clock ticks from
/proc/PID/stat) so the test process can pin it by identity before trusting it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Shared plumbing imported by every simulated Python process.
SIM_HELPERS = r'''"""Plumbing shared by the simulated Hermes processes (hermes-top test double)."""
import json
import os
import select
import signal
import subprocess
import threading
import time

TIMEOUT = float(os.environ.get("HERMES_SIM_TIMEOUT", "20"))


def starttime(pid="self"):
    """Start time in clock ticks (field 22 of /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2 :].split()[19])


def me():
    return {"pid": os.getpid(), "st": starttime()}


def send(obj, fd=1):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def wait_readable(fds, timeout):
    ready, _, _ = select.select(fds, [], [], timeout)
    return ready


class Lines:
    """Newline-terminated text from a raw fd, with timeouts."""

    def __init__(self, fd):
        self.fd, self.buf, self.eof = fd, b"", False

    def fill(self, timeout):
        if wait_readable([self.fd], timeout):
            chunk = os.read(self.fd, 65536)
            self.eof = self.eof or not chunk
            self.buf += chunk

    def next(self):
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            line = self.next()
            if line is not None:
                return line
            if self.eof:
                raise EOFError("peer closed the pipe")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply within {timeout} s")
            self.fill(left)


def wake_on_sigchld():
    """A fd that becomes readable when a child changes state."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(w)
    return r


def drain(fd):
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def creds(uid):
    if uid is None:
        return {}
    import pwd

    return {"user": uid, "group": pwd.getpwuid(uid).pw_gid, "extra_groups": []}


def close_pipes(p):
    for f in (p.stdin, p.stdout, p.stderr):
        try:
            f.close()
        except (OSError, ValueError):
            pass


def stderr_tail(p):
    try:
        if wait_readable([p.stderr.fileno()], 0):
            return os.read(p.stderr.fileno(), 4096).decode(errors="replace").strip()
    except (OSError, ValueError):
        pass
    return ""


def kill_child(p):
    try:
        p.kill()
    except OSError:
        pass
    p.wait()
    close_pipes(p)


def stop_child(p, timeout=10.0):
    """Ask a child to exit (``exit`` on its stdin), SIGKILL it if it will not."""
    try:
        os.write(p.stdin.fileno(), b"exit\n")
    except (OSError, ValueError):
        pass
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    close_pipes(p)


def spawn_worker(python, key, model=None, ignore_term=False, cwd=None, uid=None):
    """Start a slash worker with 3 pipes to us and wait for its ready line."""
    argv = [python, "-m", "tui_gateway.slash_worker", "--session-key", key]
    if model:
        argv += ["--model", model]
    env = dict(os.environ)
    env.pop("HERMES_SIM_IGNORE_TERM", None)
    if ignore_term:
        env["HERMES_SIM_IGNORE_TERM"] = "1"
    p = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # like hermes-agent 0.19
        env=env,
        cwd=cwd,
        **creds(uid),
    )
    try:
        msg = json.loads(Lines(p.stdout.fileno()).read(TIMEOUT))
    except BaseException as err:
        tail = stderr_tail(p)
        kill_child(p)
        if isinstance(err, Exception) and tail:
            raise RuntimeError(f"slash worker failed: {err}: {tail}") from err
        raise
    return p, msg["ready"]


def watch_owner():
    """Safety net: exit when the simulation's owner process is gone.

    This watches the *owner* (the test process), not the parent, so leaks
    behave like old installs (no watchdog) while the owner lives, and a
    killed test run cannot leave simulated processes behind for long. One FD
    on the owner's /proc/PID/stat stays open (reads give ESRCH once it is
    gone), so FD counts never see a transient open.
    """
    spec = os.environ.get("HERMES_SIM_OWNER", "")
    if not spec:
        return
    pid_text, _, st = spec.partition(":")
    pid = int(pid_text)
    if os.path.isdir("/proc"):
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(fd, 4096, 0)
        except (FileNotFoundError, ProcessLookupError):
            os._exit(0)
        if st and data[data.rindex(b")") + 2 :].split()[19].decode() != st:
            os._exit(0)  # the PID belongs to someone else now

        def owner_alive():
            try:
                os.pread(fd, 4096, 0)
            except ProcessLookupError:
                return False
            return True

    else:

        def owner_alive():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
            return True

    def loop():
        while owner_alive():
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=loop, daemon=True).start()
'''

HERMES_CLI_INIT = '"""Simulated hermes_cli (hermes-top test double)."""\n'

#: ``python -m hermes_cli.main dashboard --port P --no-open``
HERMES_CLI_MAIN = r'''"""Simulated ``hermes dashboard`` (hermes-top test double, stdlib only).

Reads line-JSON requests on stdin and answers each with one line on stdout.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import _hermes_sim as hs


def lower_nofile():
    soft = os.environ.get("HERMES_SIM_FD_SOFT")
    if soft:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = int(soft)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Tab:
    def __init__(self, kind, key):
        self.kind, self.key = kind, key
        self.head = None  # spawn path: node (or the entry when there is no node)
        self.lines = None
        self.master = None
        self.workers = []


class Dashboard:
    def __init__(self):
        self.root = os.environ["HERMES_SIM_ROOT"]
        self.python = os.environ["HERMES_PYTHON"]
        self.node = os.environ.get("HERMES_SIM_NODE") or None
        self.tabs = {}
        self.next_tab = 1
        self.fillers = []
        self.zombies = []  # pids spawned and deliberately never waited for

    def run(self):
        wake = hs.wake_on_sigchld()
        ctl = hs.Lines(0)
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
        # The owner closed the control pipe: it is gone. Workers stay (they leak).

    def handle(self, line):
        req = {}
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

    def add(self, tab):
        tid = self.next_tab
        self.next_tab += 1
        self.tabs[tid] = tab
        return tid

    def tab(self, tid):
        if tid not in self.tabs:
            raise KeyError(f"no open tab {tid}")
        return self.tabs[tid]

    def drop(self, tid):
        tab = self.tabs.pop(tid)
        if tab.master is not None:
            os.close(tab.master)
        if tab.head is not None:
            hs.close_pipes(tab.head)

    def reap(self):
        """Wait for children that exited and close their pipes (frees our FDs)."""
        for tid, tab in list(self.tabs.items()):
            for w in list(tab.workers):
                if w.poll() is not None:
                    hs.close_pipes(w)
                    tab.workers.remove(w)
            if tab.head is not None and tab.head.poll() is not None:
                self.drop(tid)

    # -- requests ------------------------------------------------------------

    def op_ping(self):
        return {"nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)), "tabs": len(self.tabs)}

    def op_stats(self):
        fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
        return {"num_fds": len(os.listdir(fd_dir)) - 1, "fillers": len(self.fillers)}

    def op_open_attach(self, key, model=None, ignore_term=False):
        tab = Tab("attach", key)
        w, info = hs.spawn_worker(self.python, key, model, ignore_term, cwd=self.root)
        tab.workers.append(w)
        return {"tab": self.add(tab), "worker": info}

    def op_open_spawn(self, key, ignore_term=False, uid=None, python=None):
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
            tab.head = subprocess.Popen(
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
        tab.lines = hs.Lines(tab.head.stdout.fileno())
        try:
            msg = json.loads(tab.lines.read(hs.TIMEOUT))
            if not msg.get("ok", True):
                raise RuntimeError(msg.get("error"))
            ready = msg["ready"]
        except BaseException as err:
            tail = hs.stderr_tail(tab.head)
            hs.kill_child(tab.head)
            if tab.master is not None:
                os.close(tab.master)
            if isinstance(err, Exception) and tail:
                raise RuntimeError(f"{err}: {tail}") from err
            raise
        tui = {"pid": tab.head.pid, "st": hs.starttime(tab.head.pid)} if self.node else None
        reply = {"tab": self.add(tab), "tui": tui}
        return dict(reply, entry=ready["entry"], worker=ready["worker"])

    def op_restart_worker(self, tab, close_old=False, ignore_term=False, model=None):
        t = self.tab(tab)
        if t.kind == "spawn":
            req = {"op": "restart_worker", "close_old": close_old, "ignore_term": ignore_term}
            hs.send(req, t.head.stdin.fileno())
            reply = json.loads(t.lines.read(hs.TIMEOUT))
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

    def op_close_tab(self, tab):
        t = self.tab(tab)
        if t.kind == "attach":
            for w in t.workers:
                hs.stop_child(w)
            self.tabs.pop(tab)
            return {}
        try:
            hs.send({"op": "close"}, t.head.stdin.fileno())
            t.lines.read(hs.TIMEOUT)
            t.head.wait(hs.TIMEOUT)
        except Exception:
            t.head.kill()
            t.head.wait()
        self.drop(tab)
        return {}

    def op_kill_tui(self, tab):
        """SIGKILL a tab's tui, as a crash or a careless close does; reap it."""
        t = self.tab(tab)
        if t.head is None:
            raise ValueError("attach tabs have no tui")
        t.head.kill()
        t.head.wait()
        self.drop(tab)
        return {"killed": t.head.pid}

    def op_zombie_tui(self):
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
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                break
            if data[data.rindex(b")") + 2 :].split()[0] == b"Z":
                break
            time.sleep(0.002)
        return {"zombie": {"pid": pid, "st": st}}

    def op_fill_fds(self, n):
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

    def op_release_fds(self, n=None):
        n = len(self.fillers) if n is None else min(n, len(self.fillers))
        for _ in range(n):
            os.close(self.fillers.pop())
        return {"closed": n, "held": len(self.fillers)}


def main():
    ap = argparse.ArgumentParser(prog="hermes")
    ap.add_argument("-p", "--profile")
    ap.add_argument("command", choices=["dashboard", "serve"])
    ap.add_argument("--port", type=int, default=9119)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--no-open", action="store_true")
    ap.add_argument("--tui", action="store_true")
    ap.parse_args()
    lower_nofile()
    hs.watch_owner()
    Dashboard().run()


if __name__ == "__main__":
    main()
'''

TUI_GATEWAY_INIT = '"""Simulated tui_gateway (hermes-top test double)."""\n'

#: ``python -m tui_gateway.entry`` (spawn path: child of the node tui)
TUI_GATEWAY_ENTRY = r'''"""Simulated ``tui_gateway.entry`` (hermes-top test double, stdlib only)."""
import json
import os
import signal
import sys

import _hermes_sim as hs


def main():
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # leaked entries outlive their tty
    hs.watch_owner()
    py, cwd = os.environ["HERMES_PYTHON"], os.environ.get("HERMES_CWD")
    key = os.environ["HERMES_SIM_SESSION_KEY"]
    wake = hs.wake_on_sigchld()
    ignore_term = os.environ.get("HERMES_SIM_WORKER_IGNORE_TERM") == "1"
    try:
        w, info = hs.spawn_worker(py, key, ignore_term=ignore_term, cwd=cwd)
    except Exception as err:
        hs.send({"ok": False, "error": f"{type(err).__name__}: {err}"})
        return 1
    workers = [w]
    hs.send({"ready": {"entry": hs.me(), "worker": info}})
    ctl = hs.Lines(0)
    while True:
        # After the tui dies stdin is at EOF; old installs keep running anyway.
        ready = hs.wait_readable([wake] if ctl.eof else [0, wake], None)
        if wake in ready:
            hs.drain(wake)
            for w in [w for w in workers if w.poll() is not None]:
                hs.close_pipes(w)
                workers.remove(w)
        if 0 not in ready:
            continue
        ctl.fill(0)
        while (line := ctl.next()) is not None:
            req = json.loads(line)
            try:
                if req["op"] == "close":
                    for w in workers:
                        hs.stop_child(w)
                    hs.send({"ok": True})
                    return 0
                if req["op"] == "restart_worker":
                    old = workers[-1] if workers else None
                    w, info = hs.spawn_worker(py, key, ignore_term=req.get("ignore_term"), cwd=cwd)
                    workers.append(w)
                    closed = None
                    if req.get("close_old") and old is not None:
                        workers.remove(old)
                        hs.stop_child(old)
                        closed = old.pid
                    hs.send({"ok": True, "worker": info, "closed": closed})
                else:
                    raise ValueError(f"unknown op {req['op']!r}")
            except Exception as err:
                hs.send({"ok": False, "error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    sys.exit(main())
'''

#: ``python -m tui_gateway.slash_worker --session-key K [--model M]``
TUI_GATEWAY_SLASH_WORKER = r'''"""Simulated ``tui_gateway.slash_worker`` (hermes-top test double).

Like installs before the mid-2026 watchdog: it keeps running when its parent
dies. ``exit`` on stdin ends it; HERMES_SIM_IGNORE_TERM=1 makes it ignore SIGTERM.
"""
import argparse
import os
import signal
import sys

import _hermes_sim as hs


def main():
    ap = argparse.ArgumentParser(prog="tui_gateway.slash_worker")
    ap.add_argument("--session-key", required=True)
    ap.add_argument("--model")
    args = ap.parse_args()
    if os.environ.get("HERMES_SIM_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hs.watch_owner()
    hs.send({"ready": hs.me(), "key": args.session_key})
    ctl = hs.Lines(0)
    while not ctl.eof:
        ctl.fill(None)
        while (line := ctl.next()) is not None:
            if line.strip() == "exit":
                return 0
    while True:  # parent gone: no watchdog, keep running
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
'''

#: ``node --expose-gc <root>/hermes_cli/tui_dist/entry.js``: relays requests to its entry.
TUI_ENTRY_JS = r"""'use strict';
// Simulated Hermes chat tab (hermes-top test double). Starts tui_gateway.entry and
// relays the dashboard's requests to it and its replies back.
const { spawn } = require('child_process');
const fs = require('fs');

if (process.env.HERMES_SIM_EXIT_AT_ONCE === '1') process.exit(0);
if (process.env.HERMES_SIM_TTY) {
  // As a session leader, opening the PTY makes it our controlling tty.
  try { fs.openSync(process.env.HERMES_SIM_TTY, 'r+'); } catch (e) { /* no tty: fine */ }
}

const [ownerPid, ownerSt] = (process.env.HERMES_SIM_OWNER || '').split(':');
if (ownerPid && fs.existsSync('/proc/self')) {
  // Safety net: exit once the simulation's owner is gone. One FD stays open on its
  // /proc stat file (reads fail with ESRCH after it exits): no transient FDs.
  const buf = Buffer.alloc(4096);
  let ownerFd;
  try {
    ownerFd = fs.openSync(`/proc/${ownerPid}/stat`, 'r');
    const stat = buf.toString('latin1', 0, fs.readSync(ownerFd, buf, 0, 4096, 0));
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (ownerSt && start !== ownerSt) process.exit(0);
  } catch (e) {
    process.exit(0);
  }
  setInterval(() => {
    try {
      fs.readSync(ownerFd, buf, 0, 4096, 0);
    } catch (e) {
      if (e.code === 'ESRCH') process.exit(0);
    }
  }, 2000).unref();
}

const entry = spawn(process.env.HERMES_PYTHON, ['-m', 'tui_gateway.entry'], {
  cwd: process.env.HERMES_CWD,
  stdio: ['pipe', 'pipe', 'pipe'],
});
entry.on('error', (err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n');
  process.exit(1);
});
process.stdout.on('error', () => {});
entry.stdin.on('error', () => {});
entry.stdout.pipe(process.stdout);
entry.stderr.pipe(process.stderr);
process.stdin.pipe(entry.stdin);
entry.on('close', (code) => process.exit(code === null ? 1 : code));
"""

#: (path relative to the root, content) of every file in the tree.
FILES: tuple[tuple[str, str], ...] = (
    ("_hermes_sim.py", SIM_HELPERS),
    ("hermes_cli/__init__.py", HERMES_CLI_INIT),
    ("hermes_cli/main.py", HERMES_CLI_MAIN),
    ("hermes_cli/tui_dist/entry.js", TUI_ENTRY_JS),
    ("tui_gateway/__init__.py", TUI_GATEWAY_INIT),
    ("tui_gateway/entry.py", TUI_GATEWAY_ENTRY),
    ("tui_gateway/slash_worker.py", TUI_GATEWAY_SLASH_WORKER),
)


def write_tree(root: Path, interpreter: str) -> Path:
    """Write the fake packages under ``root`` and ``root/venv/bin/python3``; return the latter.

    Everything is world-readable (dirs 0755, files 0644) so a process running
    as another user (the ``other_user_orphan`` leak) can import it.
    """
    os.chmod(root, 0o755)
    for rel, text in FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
    python = root / "venv" / "bin" / "python3"
    python.parent.mkdir(parents=True, mode=0o755)
    python.symlink_to(interpreter)
    # A pyvenv.cfg makes it a real (empty) venv, like a Hermes install: without
    # it every simulated Python would also load the base interpreter's
    # site-packages .pth files, which can cost more than the process itself.
    (root / "venv" / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(interpreter)}\ninclude-system-site-packages = false\n",
        encoding="utf-8",
    )
    # Without node, the zombie tui is a Python that exits at once; a symlink
    # named ``node`` keeps its comm (what ps shows for a zombie) right.
    fake_node = root / "fakebin" / "node"
    fake_node.parent.mkdir(mode=0o755)
    fake_node.symlink_to(interpreter)
    for d in root.rglob("*"):
        if d.is_dir() and not d.is_symlink():
            d.chmod(0o755)  # whatever the umask said
    return python
