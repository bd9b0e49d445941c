"""Loopback-only HTTP/1.0 GET and a minimal RFC 6455 websocket client, for
talking to a dashboard on this machine (core/dashboard_api.py). Hostile by
default: only loopback addresses, one deadline per call, bounded sizes, no
redirects; anything unexpected is a ``Fail`` with a short reason."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from typing import Any

#: Seconds for one whole call (connect, handshake, every read).
DEFAULT_TIMEOUT = 3.0
#: Largest HTTP body or websocket message accepted (bytes).
MAX_BODY = 1 << 20
#: Largest HTTP header block / handshake accepted (bytes).
MAX_HEADER = 16 << 10
#: Most bytes read from one websocket in one call (events before our answer count too).
MAX_WS_TOTAL = 4 << 20

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class DashboardApiError(Exception):
    """The caller asked for something this client refuses (bad host, port or token)."""


class NonLoopbackHost(DashboardApiError):
    """Only loopback addresses (127.0.0.0/8, ::1, ``localhost``) are ever contacted."""


class InvalidArgument(DashboardApiError):
    """A port out of range or a token that is not a plain URL-safe string."""


class Fail(Exception):
    """Internal: any failure talking to the dashboard (never leaves this module)."""


# -- arguments -------------------------------------------------------------------


def check_host(host: str) -> str:
    """The IP literal to connect to; raises NonLoopbackHost for anything else."""
    if not isinstance(host, str):
        raise NonLoopbackHost("host must be a loopback address")
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return "127.0.0.1"  # never resolved: /etc/hosts could point it anywhere
    if name in ("127.0.0.1", "::1"):
        return name  # the common case, without importing ipaddress
    import ipaddress

    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        raise NonLoopbackHost("host must be a loopback address") from None
    if not addr.is_loopback:
        raise NonLoopbackHost("host must be a loopback address")
    return str(addr)


def _sha1(data: bytes) -> bytes:
    """SHA-1 for the handshake check; CPython's built-in one where it exists,
    since loading OpenSSL for hashlib costs more than the whole handshake."""
    try:
        from _sha1 import sha1  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha1
    return bytes(sha1(data).digest())


def check_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidArgument("port must be an int in 1..65535")
    return port


def check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidArgument("timeout must be a positive number of seconds")
    return float(min(timeout, 60.0))


def _host_header(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# -- a deadline-bound socket ------------------------------------------------------


class _Conn:
    """A TCP connection where every operation shares one deadline."""

    def __init__(self, ip: str, port: int, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.buf = b""
        self.total = 0
        try:
            self.sock = socket.create_connection((ip, port), timeout=timeout)
        except TimeoutError:
            raise Fail("timeout") from None
        except OSError:
            raise Fail("connect") from None

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Fail("timeout")
        return left

    def send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(self._left())
            self.sock.sendall(data)
        except TimeoutError:
            raise Fail("timeout") from None
        except OSError:
            raise Fail("send") from None

    def _fill(self, limit: int) -> bool:
        """Read more into the buffer; False at EOF."""
        try:
            self.sock.settimeout(self._left())
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise Fail("timeout") from None
        except OSError:
            raise Fail("recv") from None
        if not chunk:
            return False
        self.total += len(chunk)
        if self.total > limit:
            raise Fail("too much data")
        self.buf += chunk
        return True

    def read_until(self, marker: bytes, limit: int) -> bytes:
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise Fail("header too large")
            if not self._fill(limit + MAX_BODY + MAX_WS_TOTAL):
                raise Fail("eof")
        head, self.buf = self.buf.split(marker, 1)
        if len(head) > limit:
            raise Fail("header too large")
        return head

    def read_exact(self, n: int, limit: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill(limit):
                raise Fail("eof")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, cap: int, limit: int) -> bytes:
        while len(self.buf) <= cap:
            if not self._fill(limit):
                return self.buf
        raise Fail("body too large")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# -- HTTP ----------------------------------------------------------------------------


def http_get(ip: str, port: int, path: str, timeout: float) -> bytes:
    """Body of ``GET path`` when the answer is exactly 200; no redirects, bounded."""
    conn = _Conn(ip, port, timeout)
    try:
        # HTTP/1.0: no chunked encoding, no keep-alive; the body ends at EOF.
        conn.send(
            (
                f"GET {path} HTTP/1.0\r\nHost: {_host_header(ip, port)}\r\n"
                "User-Agent: hermes-top\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            ).encode("ascii")
        )
        head = conn.read_until(b"\r\n\r\n", MAX_HEADER)
        lines = head.decode("iso-8859-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
            raise Fail("status")
        length: int | None = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if key == "content-length":
                text = value.strip()
                if not text.isdigit() or len(text) > 12:
                    raise Fail("content-length")
                length = int(text)
            elif key == "transfer-encoding":
                raise Fail("transfer-encoding")  # not allowed in a reply to HTTP/1.0
        limit = MAX_HEADER + MAX_BODY + 1
        if length is not None:
            if length > MAX_BODY:
                raise Fail("body too large")
            return conn.read_exact(length, limit)
        return conn.read_to_eof(MAX_BODY, limit)
    finally:
        conn.close()


def json_object(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Fail("json") from None
    if not isinstance(parsed, dict):
        raise Fail("json shape")
    return parsed


def _mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    reps = (len(data) + 3) // 4
    mask = int.from_bytes((key * reps)[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ mask).to_bytes(len(data), "big")


def _frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + key + _mask(payload, key)


class WebSocket:
    """Just enough of a websocket client for one request/response exchange."""

    def __init__(self, ip: str, port: int, path_and_query: str, timeout: float) -> None:
        self.conn = _Conn(ip, port, timeout)
        try:
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            self.conn.send(
                (
                    f"GET {path_and_query} HTTP/1.1\r\n"
                    f"Host: {_host_header(ip, port)}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    "User-Agent: hermes-top\r\n\r\n"
                ).encode("ascii")
            )
            head = self.conn.read_until(b"\r\n\r\n", MAX_HEADER).decode("iso-8859-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or parts[1] != "101":
                raise Fail("unauthorized" if parts[1:2] == ["403"] else "handshake")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            want = base64.b64encode(_sha1((key + _WS_GUID).encode())).decode()
            if headers.get("sec-websocket-accept") != want:
                raise Fail("handshake")
            if headers.get("upgrade", "").lower() != "websocket":
                raise Fail("handshake")
            if headers.get("sec-websocket-extensions"):
                raise Fail("handshake")  # none asked for, none accepted
        except BaseException:
            self.conn.close()
            raise

    def send_text(self, text: str) -> None:
        self.conn.send(_frame(0x1, text.encode("utf-8")))

    def _read_frame(self) -> tuple[bool, int, bytes]:
        limit = MAX_WS_TOTAL
        b1, b2 = self.conn.read_exact(2, limit)
        fin, rsv, opcode = bool(b1 & 0x80), b1 & 0x70, b1 & 0x0F
        if rsv:
            raise Fail("protocol")
        if b2 & 0x80:
            raise Fail("protocol")  # a server must not mask
        length = b2 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.conn.read_exact(2, limit))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.conn.read_exact(8, limit))
        if opcode >= 0x8 and (length > 125 or not fin):
            raise Fail("protocol")
        if length > MAX_BODY:
            raise Fail("message too large")
        return fin, opcode, self.conn.read_exact(length, limit)

    def recv_text(self) -> str | None:
        """The next complete text message; None when the server closed."""
        parts: list[bytes] = []
        size = 0
        binary = False
        while True:
            fin, opcode, data = self._read_frame()
            if opcode == 0x9:  # ping
                self.conn.send(_frame(0xA, data))
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode == 0x8:  # close
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000
                try:
                    self.conn.send(_frame(0x8, struct.pack("!H", 1000)))
                except Fail:
                    pass
                if code in (4401, 4403, 1008):
                    raise Fail("unauthorized")
                return None
            if opcode in (0x1, 0x2):
                if parts:
                    raise Fail("protocol")  # a new message inside a fragmented one
                parts = [data]
                binary = opcode == 0x2
            elif opcode == 0x0:
                if not parts:
                    raise Fail("protocol")  # continuation of nothing
                parts.append(data)
            else:
                raise Fail("protocol")
            size += len(data)
            if size > MAX_BODY:
                raise Fail("message too large")
            if fin:
                payload = b"".join(parts)
                parts, size = [], 0
                if binary:
                    continue  # the JSON-RPC channel is text; ignore anything else
                try:
                    return payload.decode("utf-8")
                except UnicodeDecodeError:
                    raise Fail("protocol") from None

    def close(self) -> None:
        try:
            self.conn.send(_frame(0x8, struct.pack("!H", 1000)))
        except Fail:
            pass
        self.conn.close()


# -- session.active_list ------------------------------------------------------------------
