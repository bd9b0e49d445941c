"""The simulated dashboard's web front on 127.0.0.1:PORT, as much of it as
hermes-top reads: ``GET /api/status``, the page that carries the session token,
and ``session.active_list`` over the ``/api/ws`` websocket (0.19's shapes).

The sessions listed are those of the dashboard's open tabs: a tab closed the
leaking way leaves its worker running with its session gone from the list,
which is what an abandoned worker of a real dashboard looks like.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import select
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

VERSION = os.environ.get("HERMES_SIM_VERSION", "0.19.0")
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Sessions = Callable[[], list[dict[str, Any]]]


class WebFront:
    def __init__(self, port: int, sessions: Sessions) -> None:
        self.token = secrets.token_hex(16)
        self.sessions = sessions
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)

    def start(self) -> None:
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            # Wait until a connection is there, then accept: a blocking accept()
            # reserves the next FD number while it sleeps (Linux), so an idle
            # dashboard would hold one FD more than it shows, as no real one does.
            select.select([self.server], [], [])
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue  # EMFILE at the limit: the browser is refused, like a real one
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                head = b""
                # No timeout: a browser's connection stays open, idle, until its tab closes.
                while b"\r\n\r\n" not in head and len(head) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                conn.settimeout(5)
                lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                _, target, _ = [*lines[0].split(" "), "", ""][:3]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (h.partition(":") for h in lines[1:])
                }
                path, _, query = target.partition("?")
                if path == "/api/status":
                    open_tabs = len(self.sessions())
                    self._reply(conn, {"version": VERSION, "active_sessions": open_tabs})
                elif path == "/":
                    page = f'<script>window.__HERMES_SESSION_TOKEN__="{self.token}";</script>'
                    self._reply(conn, page, "text/html")
                elif path == "/api/ws" and "sec-websocket-key" in headers:
                    token = urllib.parse.parse_qs(query).get("token", [""])[0]
                    if not secrets.compare_digest(token, self.token):
                        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                        return
                    self._websocket(conn, headers["sec-websocket-key"])
                else:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except (OSError, ValueError):
                return

    @staticmethod
    def _reply(conn: socket.socket, body: Any, kind: str = "application/json") -> None:
        data = (json.dumps(body) if kind == "application/json" else str(body)).encode()
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + data
        )

    def _websocket(self, conn: socket.socket, key: str) -> None:
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        while True:
            message = _read_frame(conn)
            if message is None:
                return
            request = json.loads(message)
            if request.get("method") == "session.active_list":
                reply: dict[str, Any] = {"result": {"sessions": self.sessions()}}
            else:
                reply = {"error": {"code": -32601, "message": "method not found"}}
            reply |= {"jsonrpc": "2.0", "id": request.get("id")}
            _send_frame(conn, json.dumps(reply).encode())


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> str | None:
    """One masked client text frame (what hermes-top sends); None on close."""
    head = _recv_exact(conn, 2)
    if head is None or head[0] & 0x0F == 0x8:
        return None
    length = head[1] & 0x7F
    if length == 126:
        more = _recv_exact(conn, 2)
        length = struct.unpack("!H", more)[0] if more else 0
    elif length == 127:
        more = _recv_exact(conn, 8)
        length = struct.unpack("!Q", more)[0] if more else 0
    mask = _recv_exact(conn, 4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = _recv_exact(conn, length) if length else b""
    if mask is None or payload is None:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload)).decode()


def _send_frame(conn: socket.socket, payload: bytes) -> None:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    conn.sendall(head + payload)


def session_row(key: str, opened: float) -> dict[str, Any]:
    return {
        "id": hashlib.sha1(key.encode()).hexdigest()[:8],
        "session_key": key,
        "status": "idle",
        "last_active": time.time(),
        "started_at": opened,
        "message_count": 0,
    }
