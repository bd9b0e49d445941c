"""Plumbing shared by the simulated Hermes processes (hermes-top test double).

Stdlib only, imported as a top-level module: the simulation puts its root on
PYTHONPATH. It stands for a foreign program, so it never imports hermes_top.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from typing import IO, Any

TIMEOUT = float(os.environ.get("HERMES_SIM_TIMEOUT", "20"))

#: A child with pipes on stdin, stdout and stderr.
Child = subprocess.Popen[bytes]


def stat_fields(data: bytes) -> list[bytes]:
    """The fields of a /proc/PID/stat line after comm: [0] state, [19] start time.
    comm may hold spaces and parentheses: it ends at the *last* ')'."""
    return data[data.rindex(b")") + 2 :].split()


def read_stat(pid: int | str = "self") -> list[bytes] | None:
    """``stat_fields`` of a process, or None if it cannot be read (gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return stat_fields(f.read())
    except OSError:
        return None


def starttime(pid: int | str = "self") -> int | None:
    """Start time in clock ticks (field 22 of /proc/PID/stat), or None."""
    fields = read_stat(pid)
    return int(fields[19]) if fields else None


def me() -> dict[str, int | None]:
    return {"pid": os.getpid(), "st": starttime()}


def send(obj: object, fd: int = 1) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    ready, _, _ = select.select(fds, [], [], timeout)
    return ready


def pipe_fd(stream: IO[bytes] | None) -> int:
    """The fd of one of a child's pipes (ValueError, as for a closed one, if none)."""
    if stream is None:
        raise ValueError("no such pipe")
    return stream.fileno()


class Lines:
    """Newline-terminated text from a raw fd, with timeouts."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf, self.eof = fd, b"", False

    def fill(self, timeout: float | None) -> None:
        if wait_readable([self.fd], timeout):
            chunk = os.read(self.fd, 65536)
            self.eof = self.eof or not chunk
            self.buf += chunk

    def next(self) -> str | None:
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def read(self, timeout: float) -> str:
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


def wake_on_sigchld() -> int:
    """A fd that becomes readable when a child changes state."""
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(w)
    return r


def drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def creds(uid: int | None) -> dict[str, Any]:
    """Popen keywords that run a child as ``uid`` (none for ourselves)."""
    if uid is None:
        return {}
    import pwd

    return {"user": uid, "group": pwd.getpwuid(uid).pw_gid, "extra_groups": []}


def close_pipes(p: Child) -> None:
    for f in (p.stdin, p.stdout, p.stderr):
        if f is None:
            continue
        try:
            f.close()
        except (OSError, ValueError):
            pass


def stderr_tail(p: Child) -> str:
    try:
        fd = pipe_fd(p.stderr)
        if wait_readable([fd], 0):
            return os.read(fd, 4096).decode(errors="replace").strip()
    except (OSError, ValueError):
        pass
    return ""


def kill_child(p: Child) -> None:
    try:
        p.kill()
    except OSError:
        pass
    p.wait()
    close_pipes(p)


def stop_child(p: Child, timeout: float = 10.0) -> None:
    """Ask a child to exit (``exit`` on its stdin), SIGKILL it if it will not."""
    try:
        os.write(pipe_fd(p.stdin), b"exit\n")
    except (OSError, ValueError):
        pass
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    close_pipes(p)


def spawn_worker(
    python: str,
    key: str,
    model: str | None = None,
    ignore_term: bool = False,
    cwd: str | None = None,
    uid: int | None = None,
) -> tuple[Child, dict[str, Any]]:
    """Start a slash worker with 3 pipes to us and wait for its ready line."""
    argv = [python, "-m", "tui_gateway.slash_worker", "--session-key", key]
    if model:
        argv += ["--model", model]
    env = dict(os.environ)
    env.pop("HERMES_SIM_IGNORE_TERM", None)
    if ignore_term:
        env["HERMES_SIM_IGNORE_TERM"] = "1"
    p: Child = subprocess.Popen(
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
        msg = json.loads(Lines(pipe_fd(p.stdout)).read(TIMEOUT))
    except BaseException as err:
        tail = stderr_tail(p)
        kill_child(p)
        if isinstance(err, Exception) and tail:
            raise RuntimeError(f"slash worker failed: {err}: {tail}") from err
        raise
    ready: dict[str, Any] = msg["ready"]
    return p, ready


def watch_owner() -> None:
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
        if st and stat_fields(data)[19].decode() != st:
            os._exit(0)  # the PID belongs to someone else now

        def owner_alive() -> bool:
            try:
                os.pread(fd, 4096, 0)
            except ProcessLookupError:
                return False
            return True

    else:

        def owner_alive() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
            return True

    def loop() -> None:
        while owner_alive():
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=loop, daemon=True).start()
