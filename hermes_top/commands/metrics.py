"""`hermes-top metrics`: one scan as Prometheus text (for node_exporter's textfile
collector), and the small loopback server ``guard --metrics-listen`` runs.

The server is read-only and cheap by construction: it never scans (it serves
what the guard's last tick rendered), answers one request at a time with a
5 s timeout, serves only ``/metrics``, and binds to a loopback address unless
told otherwise; on loopback it also refuses requests whose Host header names
anything but a loopback address (a DNS-rebinding web page in a browser on
this machine cannot read it).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from hermes_top.core.errors import HermesTopError, UsageError
from hermes_top.core.model import ProcessInfo
from hermes_top.core.safe_files import UnsafePath, locate, why

#: Narrows every scan of `guard` and `metrics` to the processes whose argv names a
#: path under this directory. For the tests and the soak (a simulation's root):
#: it can only hide processes, never add one.
SCOPE_ENV = "HERMES_TOP_SCOPE_ROOT"
#: How long one request may take before the server drops it.
REQUEST_TIMEOUT_S = 5.0
METRICS_PATH = "/metrics"

#: (body, content type) for a scraper's Accept header.
Render = Callable[[str | None], tuple[bytes, str]]


def scope_from_env() -> Callable[[ProcessInfo], bool] | None:
    """The scope $HERMES_TOP_SCOPE_ROOT asks for, or None (everything)."""
    root = os.environ.get(SCOPE_ENV)
    if not root:
        return None
    if not os.path.isabs(root):
        raise UsageError(f"{SCOPE_ENV} must be an absolute directory, not {root!r}")
    prefix = os.path.join(os.path.realpath(root), "")

    def in_scope(proc: ProcessInfo) -> bool:
        return any(arg.startswith(prefix) for arg in proc.identity.cmdline)

    return in_scope


def register(sub: Any) -> None:
    p = sub.add_parser(
        "metrics",
        help="print one scan as Prometheus text (node_exporter's textfile collector)",
        description="Per dashboard: FDs, soft and hard limit, processes by state, FDs a reap "
        "or a restart would free, RSS; machine-wide counts by state. The leak rate and the "
        "guard's counters come only from `hermes-top guard --metrics-listen`.",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="replace FILE atomically instead of printing (e.g. "
        "/var/lib/node_exporter/textfile_collector/hermes.prom); left as it was when the "
        "scan fails",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hermes_top.commands.wiring import make_core
    from hermes_top.view.metrics import render, require_client

    require_client()  # before the scan: a missing library is one line, not a traceback later
    core = make_core(pin=False, act=False, scope=scope_from_env())
    snapshot = core.scan()
    body, _ = render(snapshot)
    for problem in snapshot.errors:
        print(f"hermes-top: warning: {problem}", file=sys.stderr)
    if args.output is None:
        sys.stdout.buffer.write(body)
        return 0
    write_textfile(args.output, body)
    return 0


def write_textfile(path: str, body: bytes) -> None:
    """Replace ``path`` atomically (a reader sees the old file or the new one),
    keeping the owner and mode of the file it replaces; a new file is 0644 and
    belongs to the directory's owner."""
    try:
        d, name = locate(path)
    except (OSError, UnsafePath) as err:
        raise HermesTopError(f"cannot write {path}: {why(err, path)}") from err
    with d:
        shown = d.show(name)
        try:
            like = d.lstat(name)
            here = d.stat()
            d.replace(name, body, like=like, mode=0o644, owner=(here.st_uid, here.st_gid))
        except (OSError, UnsafePath) as err:
            raise HermesTopError(f"cannot write {shown}: {why(err, shown)}") from err
    if not name.endswith(".prom"):
        print(
            f"hermes-top: note: node_exporter's textfile collector reads only *.prom files "
            f"({shown})",
            file=sys.stderr,
        )


# -- the guard's server ------------------------------------------------------------


def parse_listen(text: str, *, allow_remote: bool) -> tuple[str, int]:
    """``127.0.0.1:9464`` / ``[::1]:9464`` -> (address, port). An IP address, not a
    name (a name can resolve anywhere); loopback unless ``allow_remote``; port
    0 (any free one: the log says which) to 65535."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"--metrics-listen wants ADDRESS:PORT, e.g. 127.0.0.1:9464 (not {text!r})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError("--metrics-listen: write an IPv6 address in brackets, e.g. [::1]:9464")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--metrics-listen: {host[:80]!r} is not an IP address "
            "(use 127.0.0.1 or [::1]; names are not resolved)"
        ) from None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise UsageError(f"--metrics-listen: {port_text[:20]!r} is not a port number")
    port = int(port_text)
    if port > 65535:
        raise UsageError(f"--metrics-listen: port {port} is above 65535")
    if not address.is_loopback and not allow_remote:
        raise UsageError(
            f"--metrics-listen {address}: not a loopback address. The guard often runs as "
            "root: it serves metrics on 127.0.0.1 or [::1] only, unless you also pass "
            "--metrics-allow-remote (then firewall the port)"
        )
    return str(address), port


def _loopback_host(host_header: str) -> bool:
    """Whether a Host header names a loopback address (or localhost)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "hermes-top"
    sys_version = ""
    protocol_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_S

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        if self.server.check_host and not _loopback_host(self.headers.get("Host", "localhost")):
            self._send(403, b"forbidden: not a loopback Host\n", "text/plain", body)
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, b"hermes-top guard: metrics at /metrics\n", "text/plain", body)
            return
        if path != METRICS_PATH:
            self._send(404, b"not found\n", "text/plain", body)
            return
        try:
            data, content_type = self.server.render(self.headers.get("Accept"))
        except Exception:  # never take the guard down; the scraper sees the failure
            self._send(500, b"cannot render the metrics\n", "text/plain", body)
            return
        self._send(200, data, content_type, body)

    def _send(self, code: int, data: bytes, content_type: str, body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # no line per scrape in the guard's log


class _Server(HTTPServer):
    """One request at a time: a flood of connections queues, it spawns nothing."""

    allow_reuse_address = True
    request_queue_size = 16

    def __init__(self, address: tuple[str, int], family: int, render: Render, check: bool) -> None:
        self.address_family = family
        self.render = render
        self.check_host = check
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that hung up: nothing to report


class MetricsServer:
    """Serves ``render`` on ``address:port`` from a daemon thread."""

    def __init__(self, address: str, port: int, render: Render) -> None:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        loopback = ipaddress.ip_address(address).is_loopback
        try:
            self._server = _Server((address, port), family, render, check=loopback)
        except OSError as err:
            raise HermesTopError(
                f"cannot listen on {self.url_for(address, port)}: {err.strerror or err}"
            ) from err
        self.port = int(self._server.server_address[1])
        self.url = self.url_for(address, self.port) + METRICS_PATH
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 1.0},
            name="hermes-top-metrics",
            daemon=True,
        )

    @staticmethod
    def url_for(address: str, port: int) -> str:
        host = f"[{address}]" if ":" in address else address
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
