"""hermes_top.core.dashboard_api against a tiny scripted server on loopback,
honest and hostile (oversized, malformed, fragmented, slowloris)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from hermes_top.core import dashboard_api as api
from hermes_top.core import loopback

TOKEN = "tok_Abc-123" + "x" * 30
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeServer:
    """Accepts connections on 127.0.0.1 and runs ``handler(conn)`` for each."""

    def __init__(self, handler: Callable[[socket.socket, FakeServer], None]) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[bytes] = []
        self.client_frames: list[tuple[int, bytes, bool]] = []
        self.errors: list[BaseException] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            self.handler(conn, self)
        except (OSError, ValueError) as exc:
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        self.thread.join(2)

    # -- helpers for handlers ------------------------------------------------------
    def read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        self.requests.append(data)
        return data

    def read_frame(self, conn: socket.socket) -> tuple[int, bytes]:
        def exact(n: int) -> bytes:
            out = b""
            while len(out) < n:
                chunk = conn.recv(n - len(out))
                if not chunk:
                    raise ValueError("eof")
                out += chunk
            return out

        b1, b2 = exact(2)
        masked = bool(b2 & 0x80)
        n = b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", exact(8))
        key = exact(4) if masked else b""
        data = exact(n)
        if masked:
            data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        self.client_frames.append((b1 & 0x0F, data, masked))
        return b1 & 0x0F, data


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket, FakeServer], None]], FakeServer]]:
    servers: list[FakeServer] = []

    def make(handler: Callable[[socket.socket, FakeServer], None]) -> FakeServer:
        srv = FakeServer(handler)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


def http_reply(status: str, body: bytes, headers: str = "", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def frame(opcode: int, data: bytes, fin: bool = True, mask: bool = False, rsv: int = 0) -> bytes:
    b1 = (0x80 if fin else 0) | rsv | opcode
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", b1, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b1, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b1, (0x80 if mask else 0) | 127, n)
    if mask:
        key = b"\x01\x02\x03\x04"
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return head + data


def ws_accept(conn: socket.socket, srv: FakeServer, accept: str | None = None) -> None:
    req = srv.read_request(conn).decode()
    key = next(
        line.split(":", 1)[1].strip()
        for line in req.split("\r\n")
        if line.lower().startswith("sec-websocket-key:")
    )
    good = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept if accept is not None else good}\r\n\r\n"
        ).encode()
    )


READY = json.dumps({"jsonrpc": "2.0", "method": "event", "params": {"type": "gateway.ready"}})
ROW = {
    "current": False,
    "id": "3f002888",
    "last_active": 1796219200.5,
    "message_count": 2,
    "model": "dummy-model",
    "preview": "secret user text",
    "session_key": "20261202_134930_601fd9",
    "started_at": 1796219200.0,
    "status": "idle",
    "title": "",
}


def answer_with(
    payload: Callable[[str], list[bytes]],
) -> Callable[[socket.socket, FakeServer], None]:
    """A ws server: handshake, gateway.ready, read the request, send ``payload(id)``."""

    def handler(conn: socket.socket, srv: FakeServer) -> None:
        ws_accept(conn, srv)
        conn.sendall(frame(0x1, READY.encode()))
        _, data = srv.read_frame(conn)
        rid = json.loads(data)["id"]
        for chunk in payload(rid):
            conn.sendall(chunk)
        conn.settimeout(0.5)
        try:  # keep what the client sends back (pongs, its close frame)
            while True:
                srv.read_frame(conn)
        except (OSError, ValueError):
            pass

    return handler


def result(rid: str, sessions: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"sessions": sessions}}).encode()


# -- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "example.com", "0.0.0.0", "::ffff:10.0.0.1", "192.168.1.1", "", "::"]
)
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(api.NonLoopbackHost):
        api.fetch_status(9119, host=host)
    with pytest.raises(api.NonLoopbackHost):
        api.probe_active_sessions(9119, TOKEN, host=host)


@pytest.mark.parametrize("port", [0, -1, 65536, True, "9119"])
def test_refuses_bad_ports(port: object) -> None:
    with pytest.raises(api.InvalidArgument):
        api.fetch_status(port)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token", ["", "a b", "x\r\nHost: evil", "t&method=x", "é", "plain-token\n", "t%0a"]
)
def test_refuses_tokens_that_are_not_plain(token: str) -> None:
    with pytest.raises(api.InvalidArgument) as err:
        api.probe_active_sessions(9119, token)
    assert token not in str(err.value) or not token


def test_loopback_aliases_are_accepted(serve: Callable[..., FakeServer]) -> None:
    srv = serve(lambda c, s: (s.read_request(c), c.sendall(http_reply("200 OK", b'{"v": 1}'))))
    assert api.fetch_status(srv.port, host="localhost") == {"v": 1}
    assert api.fetch_status(srv.port, host="127.0.0.1") == {"v": 1}
    assert b"Host: 127.0.0.1:" in srv.requests[0]
    assert b"token" not in srv.requests[0].lower()


def test_nothing_listening_is_none() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert api.fetch_status(port) is None
    assert api.probe_active_sessions(port, TOKEN).error == "connect"


# -- /api/status and / ----------------------------------------------------------------


def _http(serve: Callable[..., FakeServer], reply: bytes, drip: float = 0.0) -> FakeServer:
    def handler(conn: socket.socket, srv: FakeServer) -> None:
        srv.read_request(conn)
        if drip:
            for i in range(len(reply)):
                conn.sendall(reply[i : i + 1])
                time.sleep(drip)
        else:
            conn.sendall(reply)

    return serve(handler)


def test_status_happy(serve: Callable[..., FakeServer]) -> None:
    body = json.dumps({"version": "0.19.0", "active_sessions": 2}).encode()
    srv = _http(serve, http_reply("200 OK", body, "Content-Type: application/json\r\n"))
    assert api.fetch_status(srv.port) == {"version": "0.19.0", "active_sessions": 2}
    assert srv.requests[0].startswith(b"GET /api/status HTTP/1.0\r\n")


def test_status_close_delimited_body(serve: Callable[..., FakeServer]) -> None:
    srv = _http(serve, http_reply("200 OK", b'{"version": "0.13.0"}', length=False))
    assert api.fetch_status(srv.port) == {"version": "0.13.0"}


@pytest.mark.parametrize(
    "reply",
    [
        http_reply("200 OK", b"[1, 2]"),
        http_reply("200 OK", b'{"version": 13}'),
        http_reply("200 OK", b"{not json"),
        http_reply("200 OK", b'{"a": "\xff\xfe"}'),
        http_reply("404 Not Found", b'{"version": "x"}'),
        http_reply("500 Oops", b"{}"),
        http_reply("302 Found", b"", "Location: http://10.0.0.1/api/status\r\n"),
        http_reply("200 OK", b"5\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n", False),
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n{}",  # lies, then EOF
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n{}",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"",
        http_reply("200 OK", b"[" * 200_000 + b"]" * 200_000),  # deep nesting
    ],
)
def test_status_hostile_is_none(serve: Callable[..., FakeServer], reply: bytes) -> None:
    srv = _http(serve, reply)
    assert api.fetch_status(srv.port, timeout=2) is None
    assert len(srv.requests) == 1, "no redirect is followed, nothing retried"


def test_status_huge_body_is_cut(serve: Callable[..., FakeServer]) -> None:
    big = b'{"x": "' + b"a" * (api.MAX_BODY + 10) + b'"}'
    assert api.fetch_status(_http(serve, http_reply("200 OK", big)).port) is None
    assert api.fetch_status(_http(serve, http_reply("200 OK", big, length=False)).port) is None


def test_status_huge_headers_are_cut(serve: Callable[..., FakeServer]) -> None:
    pad = b"a" * (loopback.MAX_HEADER * 4)
    reply = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + pad + b"\r\n\r\n{}"
    assert api.fetch_status(_http(serve, reply).port) is None


def test_status_slowloris_hits_the_deadline(serve: Callable[..., FakeServer]) -> None:
    reply = http_reply("200 OK", b'{"version": "0.19.0", "pad": "' + b"a" * 200 + b'"}')
    srv = _http(serve, reply, drip=0.05)
    t0 = time.monotonic()
    assert api.fetch_status(srv.port, timeout=1.0) is None
    assert time.monotonic() - t0 < 2.0


def test_status_silent_server_hits_the_deadline(serve: Callable[..., FakeServer]) -> None:
    srv = serve(lambda c, s: (s.read_request(c), time.sleep(3)))
    t0 = time.monotonic()
    assert api.fetch_status(srv.port, timeout=0.5) is None
    assert time.monotonic() - t0 < 1.5


def test_token_from_page(serve: Callable[..., FakeServer]) -> None:
    page = (
        f'<html><head><script>window.__HERMES_SESSION_TOKEN__="{TOKEN}";'
        "window.__HERMES_AUTH_REQUIRED__=false;</script></head></html>"
    ).encode()
    srv = _http(serve, http_reply("200 OK", page))
    assert api.fetch_token(srv.port) == TOKEN
    assert srv.requests[0].startswith(b"GET / HTTP/1.0\r\n")


@pytest.mark.parametrize(
    "page",
    [
        b"<html>no token here</html>",
        b'<script>window.__HERMES_AUTH_REQUIRED__=true;window.__HERMES_SESSION_TOKEN__="'
        + TOKEN.encode()
        + b'";</script>',
        b'<script>window.__HERMES_SESSION_TOKEN__="short";</script>',
        b'<script>window.__HERMES_SESSION_TOKEN__="' + b"a\\r\\nb" * 10 + b'";</script>',
    ],
)
def test_token_absent_or_gated_is_none(serve: Callable[..., FakeServer], page: bytes) -> None:
    assert api.fetch_token(_http(serve, http_reply("200 OK", page)).port) is None


# -- session.active_list over the websocket ------------------------------------------------


def test_active_list_happy(serve: Callable[..., FakeServer]) -> None:
    srv = serve(answer_with(lambda rid: [frame(0x1, result(rid, [ROW]))]))
    got = api.probe_active_sessions(srv.port, TOKEN)
    assert got.error is None and got.skipped == 0
    (row,) = got.sessions
    assert row == api.ActiveSession(
        id="3f002888",
        session_key="20261202_134930_601fd9",
        status="idle",
        last_active=1796219200.5,
        started_at=1796219200.0,
        message_count=2,
        model="dummy-model",
        title="",
        current=False,
    )
    assert "secret" not in repr(got), "the message preview is not kept"
    assert api.active_sessions(srv.port, TOKEN) == [row]
    req = srv.requests[0].decode()
    assert req.startswith(f"GET /api/ws?token={TOKEN} HTTP/1.1\r\n")
    sent = [json.loads(data) for op, data, masked in srv.client_frames if op == 0x1]
    assert all(masked for _, _, masked in srv.client_frames), "client frames are masked"
    assert [m["method"] for m in sent] == ["session.active_list"] * len(sent)


def test_active_list_fragmented_with_pings_in_between(serve: Callable[..., FakeServer]) -> None:
    def payload(rid: str) -> list[bytes]:
        data = result(rid, [ROW, ROW])
        a, b, c = data[:10], data[10:25], data[25:]
        return [
            frame(0x1, a, fin=False),
            frame(0x9, b"ping!"),
            frame(0x0, b, fin=False),
            frame(0xA, b""),
            frame(0x0, c, fin=True),
        ]

    srv = serve(answer_with(payload))
    got = api.probe_active_sessions(srv.port, TOKEN)
    assert got.error is None and len(got.sessions) == 2
    deadline = time.monotonic() + 3
    while (0xA, b"ping!", True) not in srv.client_frames and time.monotonic() < deadline:
        time.sleep(0.02)  # the server thread records what the client sent
    assert (0xA, b"ping!", True) in srv.client_frames, "a ping is answered with a pong"


def test_active_list_skips_events_and_malformed_rows(serve: Callable[..., FakeServer]) -> None:
    bad_rows: list[object] = [
        "x",
        {"id": 1, "session_key": "k", "status": "idle"},
        {"id": "a", "status": "idle"},
        {"id": "a", "session_key": "k" * 1000, "status": "idle"},
        {**ROW, "last_active": float("nan")} | {"id": "ok2"},
        {**ROW, "message_count": True, "current": "yes", "title": 5, "id": "ok3"},
    ]

    def payload(rid: str) -> list[bytes]:
        other = json.dumps({"jsonrpc": "2.0", "id": "someone-else", "result": {"sessions": []}})
        return [
            frame(0x1, other.encode()),
            frame(0x2, b"\x00bin"),
            frame(0x1, result(rid, bad_rows)),
        ]

    got = api.probe_active_sessions(serve(answer_with(payload)).port, TOKEN)
    assert got.error is None and got.skipped == 4
    ok2, ok3 = got.sessions
    assert ok2.last_active is None
    assert ok3.message_count is None and ok3.current is False and ok3.title is None


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (lambda rid: [frame(0x1, b"{oops")], "protocol"),
        (lambda rid: [frame(0x1, json.dumps({"id": rid, "result": []}).encode())], "protocol"),
        (
            lambda rid: [frame(0x1, json.dumps({"id": rid, "result": {"sessions": {}}}).encode())],
            "protocol",
        ),
        (
            lambda rid: [
                frame(
                    0x1,
                    json.dumps(
                        {"id": rid, "error": {"code": -32601, "message": "unknown method"}}
                    ).encode(),
                )
            ],
            "unsupported",
        ),
        (lambda rid: [frame(0x1, json.dumps({"id": rid, "error": "x"}).encode())], "rpc_error"),
        (lambda rid: [frame(0x1, result(rid, []), mask=True)], "protocol"),  # masked by server
        (lambda rid: [frame(0x1, result(rid, []), rsv=0x40)], "protocol"),  # no extension
        (lambda rid: [frame(0x0, b"{}")], "protocol"),  # continuation of nothing
        (lambda rid: [frame(0x1, b"{", fin=False), frame(0x1, b"}")], "protocol"),
        (lambda rid: [frame(0x9, b"p" * 126)], "protocol"),  # oversized control frame
        (lambda rid: [frame(0x9, b"p", fin=False)], "protocol"),  # fragmented control frame
        (lambda rid: [frame(0x3, b"?")], "protocol"),  # reserved opcode
        (lambda rid: [frame(0x1, b"\xff\xfe")], "protocol"),  # not UTF-8
        (lambda rid: [struct.pack("!BBQ", 0x81, 127, 1 << 40)], "protocol"),  # 1 TiB header
        (lambda rid: [frame(0x8, struct.pack("!H", 1000))], "closed"),
        (lambda rid: [frame(0x8, struct.pack("!H", 4401))], "unauthorized"),
        (lambda rid: [], "timeout"),  # never answers
    ],
)
def test_active_list_hostile(
    serve: Callable[..., FakeServer], payload: Callable[[str], list[bytes]], error: str
) -> None:
    def handler(conn: socket.socket, srv: FakeServer) -> None:
        answer_with(payload)(conn, srv)
        time.sleep(1.5)

    t0 = time.monotonic()
    got = api.probe_active_sessions(serve(handler).port, TOKEN, timeout=1.0)
    assert got.error == error and got.sessions == ()
    assert time.monotonic() - t0 < 2.0
    assert TOKEN not in repr(got)


def test_active_list_oversized_message_by_fragments(serve: Callable[..., FakeServer]) -> None:
    piece = b"a" * 60000

    def payload(rid: str) -> list[bytes]:
        frames = [frame(0x1, b'["', fin=False)]
        frames += [frame(0x0, piece, fin=False) for _ in range(api.MAX_BODY // len(piece) + 2)]
        return [*frames, frame(0x0, b'"]')]

    assert api.probe_active_sessions(serve(answer_with(payload)).port, TOKEN).error == "protocol"


def test_active_list_flood_of_events_is_bounded(serve: Callable[..., FakeServer]) -> None:
    event = frame(0x1, json.dumps({"method": "event", "pad": "x" * 60000}).encode())

    def payload(rid: str) -> list[bytes]:
        return [event] * (loopback.MAX_WS_TOTAL // len(event) + 5) + [frame(0x1, result(rid, []))]

    assert api.probe_active_sessions(serve(answer_with(payload)).port, TOKEN).error == "protocol"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "unauthorized"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "protocol"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Accept: bogus\r\n\r\n",
            "protocol",
        ),
        (b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: " + b"y" * 40000 + b"\r\n\r\n", "protocol"),
    ],
)
def test_active_list_bad_handshakes(
    serve: Callable[..., FakeServer], response: bytes, error: str
) -> None:
    srv = serve(lambda c, s: (s.read_request(c), c.sendall(response), time.sleep(0.5)))
    assert api.probe_active_sessions(srv.port, TOKEN, timeout=1.0).error == error
    assert api.active_sessions(srv.port, TOKEN, timeout=1.0) is None


def test_active_list_slowloris_handshake(serve: Callable[..., FakeServer]) -> None:
    def handler(conn: socket.socket, srv: FakeServer) -> None:
        srv.read_request(conn)
        for ch in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n":
            conn.sendall(bytes([ch]))
            time.sleep(0.05)

    t0 = time.monotonic()
    assert api.probe_active_sessions(serve(handler).port, TOKEN, timeout=1.0).error == "timeout"
    assert time.monotonic() - t0 < 2.0
