"""A read-only client of a live Hermes dashboard on this machine (stdlib only).

What it asks, and nothing else:

* ``GET /api/status`` (no token) -> :func:`fetch_status`;
* ``GET /`` -> the session token the dashboard injects into its page for the
  browser (``window.__HERMES_SESSION_TOKEN__="…"``) -> :func:`fetch_token`.
  Dashboards behind the auth gate (``__HERMES_AUTH_REQUIRED__=true``) do not
  expose it: None;
* JSON-RPC ``session.active_list`` over ``ws://HOST:PORT/api/ws?token=…``
  (0.15 and later) -> :func:`active_sessions` / :func:`probe_active_sessions`.
  The only method ever sent; it reads the dashboard's in-memory session table.

Everything that comes back is treated as hostile: only loopback addresses are
ever contacted (anything else raises :class:`NonLoopbackHost`), every call has
one hard deadline covering connect, handshake and every read (a server that
drips bytes cannot hold it longer), every response is size-bounded
(:data:`MAX_BODY`), redirects are not followed, JSON shapes and types are
checked field by field. Apart from :class:`DashboardApiError` (and its
subclasses) for arguments the caller got wrong, nothing raises: failures are
None (or a :class:`ActiveSessions` with ``error`` set). The token is never
logged, printed, put in an exception or kept in a ``repr``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from hermes_top.core.loopback import (
    DEFAULT_TIMEOUT,
    MAX_BODY,
    DashboardApiError,
    Fail,
    InvalidArgument,
    NonLoopbackHost,
    WebSocket,
    check_host,
    check_port,
    check_timeout,
    http_get,
    json_object,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "ActiveSession",
    "ActiveSessions",
    "DashboardApiError",
    "InvalidArgument",
    "NonLoopbackHost",
    "active_sessions",
    "fetch_status",
    "fetch_token",
    "probe_active_sessions",
]

#: Most rows kept from one ``session.active_list`` answer.
MAX_SESSIONS = 4096
_TOKEN_RE = re.compile(r'window\.__HERMES_SESSION_TOKEN__\s*=\s*"([A-Za-z0-9_\-]{16,512})"')
_GATED_RE = re.compile(r"window\.__HERMES_AUTH_REQUIRED__\s*=\s*true")
#: Unreserved URL characters only, so the token goes into the query as it is.
_TOKEN_OK = re.compile(r"[A-Za-z0-9_\-.~]{1,512}")
_RPC_ID = "hermes-top-active-list"


def fetch_status(
    port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any] | None:
    """``GET /api/status`` (needs no token): the JSON object, or None.

    Every version answers it (``version``, ``active_sessions``, ``hermes_home``,
    …). When ``version`` is present it must be a string, else None."""
    ip, port, timeout = check_host(host), check_port(port), check_timeout(timeout)
    try:
        status = json_object(http_get(ip, port, "/api/status", timeout))
    except Fail:
        return None
    except Exception:  # the contract: nothing but DashboardApiError escapes
        return None
    if "version" in status and not isinstance(status["version"], str):
        return None
    return status


def fetch_token(port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The session token from the dashboard's page, as a browser gets it; None
    when the page has none (auth gate on, no web UI) or anything goes wrong."""
    ip, port, timeout = check_host(host), check_port(port), check_timeout(timeout)
    try:
        page = http_get(ip, port, "/", timeout).decode("utf-8", errors="replace")
    except Fail:
        return None
    except Exception:
        return None
    if _GATED_RE.search(page):
        return None
    match = _TOKEN_RE.search(page)
    return match.group(1) if match else None


# -- websocket (RFC 6455, client side) ------------------------------------------------


@dataclass(frozen=True)
class ActiveSession:
    """One row of ``session.active_list``: a session the dashboard holds in memory.

    ``session_key`` is the state.db session id (the worker's ``--session-key``,
    or the agent's current id after a compression). ``status`` is e.g.
    ``idle``, ``running``, ``starting``. The message preview is not kept."""

    id: str
    session_key: str
    status: str
    last_active: float | None = None
    started_at: float | None = None
    message_count: int | None = None
    model: str | None = None
    title: str | None = None
    current: bool = False


@dataclass(frozen=True)
class ActiveSessions:
    """What one ``session.active_list`` call gave: ``sessions`` or an ``error``.

    ``error`` is one of ``connect``, ``timeout``, ``unauthorized`` (token refused),
    ``unsupported`` (no such method: 0.13/0.14), ``rpc_error``, ``protocol``
    (anything malformed), ``closed`` (the server hung up first)."""

    sessions: tuple[ActiveSession, ...] = ()
    error: str | None = None
    #: Rows dropped because they were malformed.
    skipped: int = field(default=0)


def _opt_str(value: Any, cap: int = 512) -> str | None:
    return value[:cap] if isinstance(value, str) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number == number and abs(number) < 1e13 else None  # no NaN/inf


def _session_row(row: Any) -> ActiveSession | None:
    if not isinstance(row, dict):
        return None
    sid, key, status = row.get("id"), row.get("session_key"), row.get("status")
    if not (isinstance(sid, str) and isinstance(key, str) and isinstance(status, str)):
        return None
    if not (0 < len(sid) <= 256 and 0 < len(key) <= 256 and len(status) <= 64):
        return None
    count = row.get("message_count")
    return ActiveSession(
        id=sid,
        session_key=key,
        status=status,
        last_active=_opt_float(row.get("last_active")),
        started_at=_opt_float(row.get("started_at")),
        message_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        model=_opt_str(row.get("model")),
        title=_opt_str(row.get("title")),
        current=row.get("current") is True,
    )


def _ask_active_list(ip: str, port: int, token: str, timeout: float) -> ActiveSessions:
    ws = WebSocket(ip, port, f"/api/ws?token={token}", timeout)  # checked by _TOKEN_OK
    try:
        ws.send_text(
            json.dumps(
                {"jsonrpc": "2.0", "id": _RPC_ID, "method": "session.active_list", "params": {}}
            )
        )
        while True:
            text = ws.recv_text()
            if text is None:
                return ActiveSessions(error="closed")
            # Newline-delimited JSON: one frame may in principle carry several lines.
            for line in text.split("\n"):
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except (ValueError, RecursionError):
                    raise Fail("protocol") from None
                if not isinstance(msg, dict) or msg.get("id") != _RPC_ID:
                    continue  # events (gateway.ready, …) and other noise
                return _answer(msg)
    finally:
        ws.close()


def _answer(msg: dict[str, Any]) -> ActiveSessions:
    if "error" in msg:
        err = msg["error"]
        code = err.get("code") if isinstance(err, dict) else None
        return ActiveSessions(error="unsupported" if code == -32601 else "rpc_error")
    result = msg.get("result")
    rows = result.get("sessions") if isinstance(result, dict) else None
    if not isinstance(rows, list):
        return ActiveSessions(error="protocol")
    sessions = []
    skipped = 0
    for row in rows[:MAX_SESSIONS]:
        parsed = _session_row(row)
        if parsed is None:
            skipped += 1
        else:
            sessions.append(parsed)
    skipped += max(0, len(rows) - MAX_SESSIONS)
    return ActiveSessions(sessions=tuple(sessions), skipped=skipped)


def probe_active_sessions(
    port: int, token: str, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT
) -> ActiveSessions:
    """Call ``session.active_list`` once; never raises past argument checks.

    Connecting to ``/api/ws`` creates nothing on the dashboard (sessions are only
    made by ``session.create``), but it may trigger a dashboard's lazy start-up
    work: call it at most once per refresh."""
    ip, port, timeout = check_host(host), check_port(port), check_timeout(timeout)
    if not isinstance(token, str) or not _TOKEN_OK.fullmatch(token):
        raise InvalidArgument("token must be a plain URL-safe string")
    try:
        return _ask_active_list(ip, port, token, timeout)
    except Fail as exc:
        reason = str(exc)
        if reason in ("connect", "timeout", "unauthorized"):
            return ActiveSessions(error=reason)
        return ActiveSessions(error="protocol")
    except Exception:
        return ActiveSessions(error="protocol")


def active_sessions(
    port: int, token: str, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT
) -> list[ActiveSession] | None:
    """The sessions a live dashboard holds (``session.active_list``), or None."""
    result = probe_active_sessions(port, token, host=host, timeout=timeout)
    return None if result.error else list(result.sessions)
