"""A small browser stand-in (stdlib only): fetch the page, read its token, open
the chat tab's websockets the way the dashboard's web UI does, close them.

What each version's web UI sends (read from the wheels' ``web_dist`` bundles):

* 0.15 bundle (the closest to 0.13.0, which ships no web UI): a chat tab opens
  ``/api/pty?token=T&channel=<uuid>`` (binary, sends ``ESC[RESIZE:c;r]`` on
  open), the sidebar's ``/api/ws?token=T`` (JSON-RPC, first request
  ``session.create {}``) and ``/api/events?token=T&channel=<uuid>``.
* 0.19 bundle: ``/api/pty?channel=chat-<uuid>&attach=<32 hex>&token=T``
  (``attach`` is kept in localStorage ``hermes.pty.token.chat``, so every tab
  of one browser profile reuses it; ``fresh=1`` plus a new value for "new
  chat"), the sidebar ``/api/ws?token=T`` with ``session.create
  {"close_on_disconnect": true, "source": "tool"}`` and ``/api/events``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import queue
import re
import socket
import struct
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

_TOKEN_RE = re.compile(r'window\.__HERMES_SESSION_TOKEN__\s*=\s*"([^"]+)"')


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
        resp = conn.getresponse()
        return resp.status, resp.read(4 * 2**20)
    finally:
        conn.close()


def page_token(port: int, timeout: float = 5.0) -> str:
    """The session token the dashboard injects into its index page, as a browser sees it."""
    status, body = http_get(port, "/", timeout)
    match = _TOKEN_RE.search(body.decode(errors="replace"))
    if status != 200 or match is None:
        raise AssertionError(f"GET / gave {status} without a session token: {body[:200]!r}")
    return match.group(1)


class WsClosed(Exception):
    pass


@dataclass
class Frame:
    opcode: int
    data: bytes


class WebSocket:
    """A client websocket with a reader thread (answers pings, queues messages)."""

    def __init__(
        self,
        port: int,
        path: str,
        params: dict[str, str],
        timeout: float = 10.0,
        origin: bool = True,
    ) -> None:
        self.port = port
        self.path = path
        query = urllib.parse.urlencode(params)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path}?{query} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: hermes-top-real-tests",
        ]
        if origin:
            lines.append(f"Origin: http://127.0.0.1:{port}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WsClosed(f"{path}: connection closed during the handshake: {head!r}")
            head += chunk
            if len(head) > 65536:
                raise WsClosed(f"{path}: oversized handshake")
        header, self._buf = head.split(b"\r\n\r\n", 1)
        status_line = header.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status_line + " ":
            raise WsClosed(f"{path}: handshake refused: {status_line}")
        self.sock.settimeout(None)
        self.messages: queue.Queue[Frame] = queue.Queue()
        self.closed = threading.Event()
        self.close_code: int | None = None
        self.bytes_in = 0
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name=f"ws{path}")
        self._reader.start()

    # -- wire ---------------------------------------------------------------
    def _recv_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WsClosed("eof")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_frame(self) -> tuple[bool, int, bytes]:
        b1, b2 = self._recv_exact(2)
        fin, opcode = bool(b1 & 0x80), b1 & 0x0F
        length = b2 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._recv_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._recv_exact(8))
        mask = self._recv_exact(4) if b2 & 0x80 else None
        data = self._recv_exact(length)
        if mask:
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return fin, opcode, data

    def _read_loop(self) -> None:
        parts: list[bytes] = []
        first_op = 0
        try:
            while True:
                fin, opcode, data = self._read_frame()
                self.bytes_in += len(data)
                if opcode == 0x9:
                    self._send(0xA, data)
                    continue
                if opcode == 0xA:
                    continue
                if opcode == 0x8:
                    self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    try:
                        self._send(0x8, data[:2])
                    except OSError:
                        pass
                    break
                if opcode in (0x1, 0x2):
                    first_op, parts = opcode, [data]
                else:
                    parts.append(data)
                if fin:
                    self.messages.put(Frame(first_op, b"".join(parts)))
                    parts = []
        except (OSError, WsClosed, ValueError):
            pass
        finally:
            self.closed.set()

    def _send(self, opcode: int, data: bytes) -> None:
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        with self._send_lock:
            self.sock.sendall(head + mask + body)

    # -- API ------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def send_binary(self, data: bytes) -> None:
        self._send(0x2, data)

    def recv(self, timeout: float = 10.0) -> Frame:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.path}: no message in {timeout} s") from None

    def close(self, code: int = 1001, wait: float = 2.0) -> None:
        """A clean close (1001 'going away' is what a closing browser tab sends)."""
        if not self.closed.is_set():
            try:
                self._send(0x8, struct.pack("!H", code))
            except OSError:
                pass
            self.closed.wait(wait)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._shutdown()

    def abort(self, rst: bool = False) -> None:
        """An abrupt close: no close frame; FIN, or RST with ``rst=True``.

        (A bare close() would not do: while the reader thread sits in recv() the
        kernel keeps the socket, sends nothing, and the peer sees a live,
        half-open connection that still answers pings.)"""
        if rst:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RD)  # wakes the reader, sends nothing
        else:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)  # FIN
        self._shutdown()

    def _shutdown(self) -> None:
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            self.sock.close()


class JsonRpc:
    """JSON-RPC over one websocket (``/api/ws``): requests by id, events kept."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._next = 0

    def request(self, method: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
        self._next += 1
        rid = f"t{self._next}"
        self.ws.send_text(
            json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no answer in {timeout} s")
            frame = self.ws.recv(timeout=left)
            try:
                msg = json.loads(frame.data)
            except ValueError:
                continue
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result")
            self.events.append(msg)


@dataclass
class Tab:
    """One open chat tab: its sockets and what it was told."""

    version: str
    channel: str
    attach: str | None
    pty: WebSocket
    sidecar: WebSocket | None
    events: WebSocket | None
    rpc: JsonRpc | None
    sidecar_session_id: str | None = None
    opened_at: float = field(default_factory=time.monotonic)
    closed: bool = False

    def sockets(self) -> list[WebSocket]:
        return [s for s in (self.pty, self.sidecar, self.events) if s is not None]

    def type(self, text: str) -> None:
        """Type into the terminal (what xterm.js sends for keystrokes)."""
        self.pty.send_text(text)

    def say(self, text: str) -> None:
        """Type a prompt key by key, then Enter (as a person at xterm.js would)."""
        for ch in text:
            self.pty.send_text(ch)
            time.sleep(0.02)
        time.sleep(0.3)
        self.pty.send_text("\r")

    def close(self, how: str = "clean") -> None:
        """``clean``: close frames (1001); ``fin``/``rst``: drop the TCP connections."""
        for sock in self.sockets():
            if how == "clean":
                sock.close(1001)
            else:
                sock.abort(rst=how == "rst")
        self.closed = True


def open_tab(
    port: int,
    token: str,
    version: str,
    attach: str | None = None,
    sidebar: bool = True,
    fresh: bool = False,
    cols: int = 120,
    rows: int = 40,
) -> Tab:
    """Open a chat tab as that version's web UI does. ``attach`` (0.18.2+): the
    browser profile's keep-alive token; None makes a new one (a new profile)."""
    modern = not version.startswith(("0.13.", "0.14.", "0.15."))
    channel = f"chat-{uuid.uuid4()}" if modern else str(uuid.uuid4())
    params = {"token": token, "channel": channel}
    if modern:
        attach = attach or os.urandom(16).hex()
        params["attach"] = attach
        if fresh:
            params["fresh"] = "1"
    else:
        attach = None
    pty = WebSocket(port, "/api/pty", params)
    pty.send_text(f"\x1b[RESIZE:{cols};{rows}]")
    sidecar = events = rpc = None
    sid = None
    if sidebar:
        sidecar = WebSocket(port, "/api/ws", {"token": token})
        rpc = JsonRpc(sidecar)
        create: dict[str, Any] = {"close_on_disconnect": True, "source": "tool"} if modern else {}
        result = rpc.request("session.create", create)
        sid = result.get("session_id") if isinstance(result, dict) else None
        events = WebSocket(port, "/api/events", {"token": token, "channel": channel})
    return Tab(version, channel, attach, pty, sidecar, events, rpc, sid)
