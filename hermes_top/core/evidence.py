"""What a live dashboard itself says about its sessions: the evidence that tells
an abandoned worker from a live one.

Sources, as far as each version offers them (core/rules.py, VersionFacts):
the dashboard's own session list (0.15+: ``session.active_list``, read-only,
over its loopback websocket), its ``state.db`` opened read-only and immutable
(never written, never locked), and the structure: where it listens (from its
own sockets, not its argv) and how many connections come from outside its
process tree (browser tabs). Network and database reads are cached per
dashboard and repeated at most every ``EVIDENCE_TTL_S``: a struggling
dashboard must not be loaded by the tool looking after it.
"""

from __future__ import annotations

import os
import pwd
import stat
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes_top.core.procfs import TCP_ESTABLISHED, TCP_LISTEN, TcpSocket, socket_inodes
from hermes_top.core.rules import VersionFacts, facts_for

if TYPE_CHECKING:
    # Imported where a dashboard is asked (sockets, http parsing): a scan that
    # asks none, like most `list` runs on 0.13/0.14, never loads it.
    from hermes_top.core import dashboard_api

#: How long a session list or state.db answer is reused.
EVIDENCE_TTL_S = 5.0
#: Timeout of one call to a dashboard (its own loopback port).
DASHBOARD_TIMEOUT_S = 1.5
#: state.db end reasons that continue the session under another id (not an end).
CONTINUED = frozenset({"compression", "branched", "compressed", "branch"})
_MAX_KEYS_PER_QUERY = 500

_Key = tuple[int, float]  # (pid, create time): one dashboard process


@dataclass(frozen=True)
class SessionEnd:
    ended_at: float
    reason: str


@dataclass(frozen=True)
class DashboardEvidence:
    version: str | None
    facts: VersionFacts
    #: Ports it listens on, from its own sockets.
    ports: tuple[int, ...] = ()
    #: Established inbound connections whose other end is not below it; None
    #: where sockets cannot be matched (macOS).
    browser_connections: int | None = None
    #: Its session list by key; None when it has none or could not be asked.
    sessions: Mapping[str, dashboard_api.ActiveSession] | None = None
    #: One line: what the session list said, or why there is none.
    sessions_note: str = ""
    #: state.db rows of the sessions that ended, by key.
    ended: Mapping[str, SessionEnd] = field(default_factory=dict)


@dataclass
class EvidenceCache:
    versions: dict[_Key, str | None] = field(default_factory=dict)
    tokens: dict[_Key, str | None] = field(default_factory=dict)
    sessions: dict[_Key, tuple[float, dashboard_api.ActiveSessions | None, str]] = field(
        default_factory=dict
    )
    ended: dict[_Key, tuple[float, dict[str, SessionEnd]]] = field(default_factory=dict)

    def forget_answers(self) -> None:
        """Drop what the dashboards and their state.db said: the next scan asks
        again (a fresh scan, the one a plan is made from)."""
        self.sessions.clear()
        self.ended.clear()

    def prune(self, alive: Iterable[_Key]) -> None:
        keep = set(alive)
        for table in (self.versions, self.tokens, self.sessions, self.ended):
            for key in [k for k in table if k not in keep]:
                del table[key]


def hermes_version(argv: tuple[str, ...]) -> str | None:
    """The hermes-agent version next to the interpreter or script the dashboard
    runs (``<venv>/lib/python3.X/site-packages/hermes_agent-V.dist-info``)."""
    for word in argv[:2]:
        if not word.startswith("/") or "/bin/" not in word:
            continue
        prefix = word.rsplit("/bin/", 1)[0]
        try:
            libs = [d for d in os.listdir(f"{prefix}/lib") if d.startswith("python")]
        except OSError:
            continue
        for lib in libs:
            try:
                names = os.listdir(f"{prefix}/lib/{lib}/site-packages")
            except OSError:
                continue
            for name in names:
                if name.startswith("hermes_agent-") and name.endswith(".dist-info"):
                    return name[len("hermes_agent-") : -len(".dist-info")][:32]
    return None


def connections(
    sockets: list[TcpSocket] | None,
    dashboard_targets: Mapping[int, str],
    held_below: Callable[[set[int]], set[int]],
) -> tuple[tuple[int, ...], int | None]:
    """(listening ports, inbound connections from outside the dashboard's tree).

    ``held_below(peers)``: which of these socket inodes (the other ends of its
    inbound connections) processes below the dashboard hold: its node tabs talk
    to it over its own port, and those are not browsers (core/tab_sockets.py)."""
    if sockets is None:
        return (), None
    mine = socket_inodes(dict(dashboard_targets))
    listening = {s.local_port for s in sockets if s.inode in mine and s.state == TCP_LISTEN}
    ports = tuple(sorted(listening))
    by_ends = {(s.local, s.remote): s.inode for s in sockets}
    peers = [
        by_ends.get((s.remote, s.local))
        for s in sockets
        if s.inode in mine and s.state == TCP_ESTABLISHED and s.local_port in listening
    ]
    below = held_below({p for p in peers if p is not None})
    # A peer not in the table (another host, another namespace) is nobody's below.
    return ports, sum(1 for p in peers if p is None or p not in below)


def gather(
    cache: EvidenceCache,
    key: _Key,
    *,
    argv: tuple[str, ...],
    uid: int,
    profile: str | None,
    ports: tuple[int, ...],
    browser_connections: int | None,
    worker_keys: Iterable[str],
    environ: Mapping[str, str] | None,
    now: float,
) -> DashboardEvidence:
    version = _version(cache, key, argv, ports)
    facts = facts_for(version)
    sessions, note = _sessions(cache, key, ports, now) if facts.lists_sessions else (None, "")
    if not facts.lists_sessions:
        note = f"hermes-agent {version} has no session list"
    ended = _ended(cache, key, _state_db(environ, uid, profile), tuple(worker_keys), now)
    return DashboardEvidence(version, facts, ports, browser_connections, sessions, note, ended)


def ask_due(
    cache: EvidenceCache,
    dashboards: Sequence[tuple[_Key, tuple[str, ...], tuple[int, ...]]],
    now: float,
) -> None:
    """Ask every dashboard in ``dashboards`` (key, argv, ports) whose version or
    session list is due, each in its own thread: a scan waits for the slowest
    dashboard, not for the sum of them (`list` with four: ~10 ms less). What they
    answer is cached as ``gather`` would cache it; ``gather`` then finds it fresh."""
    due = [d for d in dashboards if _due(cache, d[0], now)]
    if len(due) < 2:
        return  # ``gather`` asks a lone one itself
    failed: list[BaseException] = []

    def ask(key: _Key, argv: tuple[str, ...], ports: tuple[int, ...]) -> None:
        try:
            if facts_for(_version(cache, key, argv, ports)).lists_sessions:
                _sessions(cache, key, ports, now)
        except BaseException as err:  # raised again below, in the scan's thread
            failed.append(err)

    # Each thread writes only its own dashboard's entries in the cache.
    started: list[threading.Thread] = []
    try:
        for d in due:
            thread = threading.Thread(target=ask, args=d, name="hermes-top-ask")
            try:
                thread.start()
            except RuntimeError:
                ask(*d)  # no thread to be had (threads-max, a fork storm): ask it here
            else:
                started.append(thread)
    finally:
        for thread in started:  # none is left writing the cache after we return
            thread.join()
    if failed:
        raise failed[0]


def _due(cache: EvidenceCache, key: _Key, now: float) -> bool:
    if key not in cache.versions:
        return True
    if not facts_for(cache.versions[key]).lists_sessions:
        return False  # its version is known and it has no session list to ask
    return _sessions_due(cache, key, now)


def _sessions_due(cache: EvidenceCache, key: _Key, now: float) -> bool:
    cached = cache.sessions.get(key)
    return cached is None or now - cached[0] >= EVIDENCE_TTL_S


def _version(
    cache: EvidenceCache, key: _Key, argv: tuple[str, ...], ports: tuple[int, ...]
) -> str | None:
    if key not in cache.versions:
        cache.versions[key] = hermes_version(argv) or _status_version(ports)
    return cache.versions[key]


def _status_version(ports: tuple[int, ...]) -> str | None:
    from hermes_top.core import dashboard_api

    for port in ports:
        try:
            status = dashboard_api.fetch_status(port, timeout=DASHBOARD_TIMEOUT_S)
        except dashboard_api.DashboardApiError:
            continue
        version = status.get("version") if status else None
        if isinstance(version, str):
            return version[:32]
    return None


def _sessions(
    cache: EvidenceCache, key: _Key, ports: tuple[int, ...], now: float
) -> tuple[Mapping[str, dashboard_api.ActiveSession] | None, str]:
    if _sessions_due(cache, key, now):
        answer, note = _ask(cache, key, ports)
        cache.sessions[key] = (now, answer, note)
    _, answer, note = cache.sessions[key]
    if answer is None or answer.error is not None:
        return None, note
    return {s.session_key: s for s in answer.sessions}, note


def _ask(
    cache: EvidenceCache, key: _Key, ports: tuple[int, ...]
) -> tuple[dashboard_api.ActiveSessions | None, str]:
    if not ports:
        return None, "session list not asked: the dashboard listens on no TCP port we can see"
    from hermes_top.core import dashboard_api

    port = ports[0]
    try:
        if key not in cache.tokens:
            cache.tokens[key] = dashboard_api.fetch_token(port, timeout=DASHBOARD_TIMEOUT_S)
        token = cache.tokens[key]
        if token is None:
            return None, "session list not available: the dashboard does not expose its token"
        answer = dashboard_api.probe_active_sessions(port, token, timeout=DASHBOARD_TIMEOUT_S)
    except dashboard_api.DashboardApiError as err:
        return None, f"session list not available: {err}"
    if answer.error is not None:
        cache.tokens.pop(key, None)  # a token that stopped working is fetched again
        return answer, f"session list not available ({answer.error})"
    return answer, f"session.active_list on port {port}: {len(answer.sessions)} session(s)"


def _state_db(environ: Mapping[str, str] | None, uid: int, profile: str | None) -> str | None:
    home = (environ or {}).get("HERMES_HOME")
    if not home:
        try:
            home = os.path.join(pwd.getpwuid(uid).pw_dir, ".hermes")
        except KeyError:
            return None
    path = os.path.join(home, "profiles", profile, "state.db") if profile else None
    if path is None or not os.path.isfile(path):
        path = os.path.join(home, "state.db")
    return path if os.path.isabs(path) else None


def _ended(
    cache: EvidenceCache, key: _Key, path: str | None, keys: tuple[str, ...], now: float
) -> dict[str, SessionEnd]:
    if path is None or not keys:
        return {}
    cached = cache.ended.get(key)
    if cached is None or now - cached[0] >= EVIDENCE_TTL_S:
        cached = cache.ended[key] = (now, read_ended_sessions(path, keys))
    return {k: v for k, v in cached[1].items() if k in keys}


def read_ended_sessions(path: str, keys: tuple[str, ...]) -> dict[str, SessionEnd]:
    """Sessions of ``keys`` that state.db says ended (and did not continue).

    The file must be a regular file, not a link; it is opened read-only and
    immutable (no lock taken, no -shm or -wal created: the tool runs as root in
    the user's home). Any failure gives no evidence, never an error."""
    try:
        info = os.lstat(path)
    except OSError:
        return {}
    if not stat.S_ISREG(info.st_mode):
        return {}
    import sqlite3  # the fallback only: most scans never open a state.db
    import urllib.parse

    uri = f"file:{urllib.parse.quote(path)}?mode=ro&immutable=1"
    found: dict[str, SessionEnd] = {}
    try:
        db = sqlite3.connect(uri, uri=True, timeout=0.2, check_same_thread=False)
    except sqlite3.Error:
        return {}
    try:
        for start in range(0, len(keys), _MAX_KEYS_PER_QUERY):
            chunk = keys[start : start + _MAX_KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT id, ended_at, end_reason FROM sessions WHERE id IN ({marks})", chunk
            ).fetchall()
            for sid, ended_at, reason in rows:
                if not isinstance(sid, str) or ended_at is None:
                    continue
                why = str(reason or "ended")[:64]
                if why in CONTINUED:
                    continue
                try:
                    found[sid] = SessionEnd(float(ended_at), why)
                except (TypeError, ValueError):
                    continue
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return found
