"""A stand-in OpenAI-compatible model endpoint on 127.0.0.1 (a thread in the test process).

Serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (plain JSON, or SSE
chunks with ``stream: true``). Every request is recorded so tests can tell
whether, and how often, Hermes talked to its model.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "dummy-model"
REPLY = "Hello from the stand-in model."


@dataclass
class Seen:
    method: str
    path: str
    body: dict[str, Any] | None
    at: float = field(default_factory=time.time)


class FakeLLM:
    def __init__(self, reply: str = REPLY) -> None:
        self.reply = reply
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _json(self, code: int, obj: object) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any] | None:
                length = int(self.headers.get("Content-Length") or 0)
                if not length:
                    return None
                raw = self.rfile.read(min(length, 16 * 2**20))
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    return None
                return parsed if isinstance(parsed, dict) else None

            def do_GET(self) -> None:
                owner._record(Seen("GET", self.path, None))
                path = self.path.split("?", 1)[0].rstrip("/")
                if path.endswith("/models"):
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": MODEL, "object": "model", "created": 0, "owned_by": "t"}
                            ],
                        },
                    )
                elif path.endswith(f"/models/{MODEL}"):
                    self._json(200, {"id": MODEL, "object": "model", "created": 0})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "not_found"}})

            def do_POST(self) -> None:
                body = self._body()
                owner._record(Seen("POST", self.path, body))
                path = self.path.split("?", 1)[0].rstrip("/")
                if not path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found", "type": "not_found"}})
                    return
                model = str((body or {}).get("model") or MODEL)
                cid = "chatcmpl-" + uuid.uuid4().hex[:12]
                now = int(time.time())
                usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
                if (body or {}).get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()

                    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> None:
                        obj = {
                            "id": cid,
                            "object": "chat.completion.chunk",
                            "created": now,
                            "model": model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                            **extra,
                        }
                        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
                        self.wfile.flush()

                    chunk({"role": "assistant", "content": ""}, None)
                    for word in owner.reply.split(" "):
                        chunk({"content": word + " "}, None)
                    chunk({}, "stop", usage=usage)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._json(
                    200,
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": now,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": owner.reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-llm", daemon=True
        )
        self._thread.start()

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def completions(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ProxyTrap:
    """A loopback "proxy" every proxy-aware client in Hermes is pointed at: it
    records where the client wanted to go and refuses (403), so nothing leaves
    the machine and a test can say which outside hosts Hermes tried."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _refuse(self) -> None:
                with owner._lock:
                    owner.attempts.append(f"{self.command} {self.path}")
                self.send_response(403, "no network in tests")
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            do_CONNECT = do_GET = do_POST = do_PUT = do_HEAD = _refuse

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="proxy-trap", daemon=True
        )
        self._thread.start()

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.attempts)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
