"""A loopback HTTP proxy in front of the test node that counts traffic and injects faults.

It forwards each request to the real node and relays the real answer, unless a fault rule
says otherwise: answer with a status, answer late, cut the connection, or rewrite the body.
It lets tests measure requests and bytes independently of the code under test, and show
behaviour under failures a healthy node never produces on demand.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Exchange", "Fault", "FaultProxy"]


@dataclass(frozen=True)
class Fault:
    """What to do with one request instead of (or on top of) forwarding it."""

    status: int | None = None
    body: dict[str, Any] | None = None
    delay: float = 0.0
    reset: bool = False
    truncate: int | None = None
    """Send the real headers and this many body bytes, then reset the connection."""
    echo_headers: bool = False
    """With ``status``: put the request's headers in the error body, as some proxies do."""
    rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None


@dataclass
class Exchange:
    method: str
    path: str
    request_body: bytes
    status: int
    response_bytes: int


@dataclass
class FaultProxy:
    """Start with :meth:`start`; ``url`` is then where clients should connect."""

    upstream: str
    rule: Callable[[str, str], Fault | None] | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        proxy = self
        parts = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.rule(self.command, self.path) if proxy.rule else None
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.reset:
                    proxy._record(self.command, self.path, body, 0, 0)
                    self._reset()
                    return
                if fault is not None and fault.status is not None:
                    error_body: dict[str, Any] = dict(fault.body or {"error": "injected"})
                    if fault.echo_headers:
                        error_body["error"] = {
                            "type": "security_exception",
                            "reason": f"rejected request with headers {dict(self.headers)}",
                            "root_cause": [
                                {"type": "echo", "reason": f"headers: {dict(self.headers)}"}
                            ],
                        }
                    payload = json.dumps(error_body).encode()
                    # Record before replying, so a client that has its answer sees the count.
                    proxy._record(self.command, self.path, body, fault.status, len(payload))
                    self._reply(
                        fault.status,
                        {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"},
                        payload,
                    )
                    return
                upstream = http.client.HTTPConnection(
                    parts.hostname or "127.0.0.1", parts.port, timeout=120
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                status = response.status
                reply_headers = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                upstream.close()
                if fault is not None and fault.rewrite is not None:
                    payload = json.dumps(fault.rewrite(json.loads(payload))).encode()
                if fault is not None and fault.truncate is not None:
                    proxy._record(self.command, self.path, body, status, fault.truncate)
                    self.send_response(status)
                    for key, value in reply_headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: fault.truncate])
                    self.wfile.flush()
                    self._reset()
                    return
                proxy._record(self.command, self.path, body, status, len(payload))
                self._reply(status, reply_headers, payload)

            def _reset(self) -> None:
                # SO_LINGER 0 makes close() send a TCP reset instead of a clean FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            # http.server dispatches on these names.
            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, method: str, path: str, body: bytes, status: int, size: int) -> None:
        with self._lock:
            self.exchanges.append(Exchange(method, path, body, status, size))

    def reset_counts(self) -> None:
        with self._lock:
            self.exchanges.clear()
