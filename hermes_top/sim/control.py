"""Talking to a simulated dashboard: line-JSON over its stdin/stdout pipes.

One request, one reply, matched by ``id`` so a reply that arrives after its
request timed out is recognised and dropped instead of answering the next one.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from hermes_top.sim.errors import SimError


class ControlChannel:
    def __init__(self, popen: subprocess.Popen[bytes], name: str, log_path: Path) -> None:
        assert popen.stdin is not None and popen.stdout is not None
        self._popen = popen
        self._w = popen.stdin.fileno()
        self._r = popen.stdout.fileno()
        self._buf = b""
        self._lock = threading.Lock()
        self._next_id = 1
        self.name = name
        self.log_path = log_path

    def _fail(self, what: str, errno: int | None = None) -> SimError:
        return SimError(f"{self.name}: {what}{self._log_tail()}", errno)

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return f" (log: {text[-800:]})" if text else ""

    def read_message(self, timeout: float) -> dict[str, Any]:
        """The next line from the dashboard, parsed."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"no reply within {timeout:.0f} s")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 65536)
            if not chunk:
                raise self._fail("exited or closed its control pipe")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except ValueError:
            raise self._fail(f"sent a line that is not JSON: {line[:200]!r}") from None
        if not isinstance(msg, dict):
            raise self._fail(f"sent {line[:200]!r}")
        return msg

    def request(self, op: str, timeout: float, **args: Any) -> dict[str, Any]:
        """Send one request and return its reply; raise SimError if it failed."""
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            data = (json.dumps({"id": rid, "op": op, "args": args}) + "\n").encode()
            try:
                while data:
                    data = data[os.write(self._w, data) :]
            except OSError as err:
                raise self._fail(f"cannot send {op!r}: {err}") from None
            deadline = time.monotonic() + timeout
            while True:
                msg = self.read_message(max(0.0, deadline - time.monotonic()))
                if msg.get("id") == rid:
                    break  # older ids: late replies to requests that timed out
        if not msg.get("ok"):
            errno = msg.get("errno")
            raise SimError(
                f"{self.name}: {op} failed: {msg.get('error')}",
                errno if isinstance(errno, int) else None,
            )
        return msg
