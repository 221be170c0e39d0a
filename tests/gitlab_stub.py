"""A stand-in for GitLab's flag APIs, for tests: no GitLab can run here.

It answers the two requests ``--expect flags`` sends, with the JSON GitLab documents:

- ``GET /api/v4/features`` (``PRIVATE-TOKEN`` header): the list of persisted flags, each
  ``{name, state, gates: [{key, value}], definition}``; 403 when the token is not an admin's;
- ``POST /api/graphql`` (``Authorization: Bearer``): for the query
  ``metadata { featureFlags(names: [...]) { name enabled } }``, every requested flag (one
  never set is disabled), as ``{"data": {"metadata": {"featureFlags": [{"name", "enabled"}]}}}``.

A wrong token gets 401. Error bodies echo the request's headers on purpose, like a careless
proxy, so tests can check the token never reaches the output. Served on a free loopback port.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Flag:
    """One persisted flag as the features API lists it."""

    name: str
    state: str
    gates: list[dict[str, Any]] = field(default_factory=list)

    def enabled(self) -> bool:
        """What GraphQL's ``enabled`` says for a user outside any partial gate."""
        return self.state == "on"


def on(name: str) -> Flag:
    return Flag(name, "on", [{"key": "boolean", "value": True}])


def off(name: str) -> Flag:
    return Flag(name, "off", [{"key": "boolean", "value": False}])


def percentage(name: str, percent: int) -> Flag:
    return Flag(
        name,
        "conditional",
        [{"key": "boolean", "value": False}, {"key": "percentage_of_time", "value": percent}],
    )


@dataclass
class Exchange:
    """One request the stub answered."""

    method: str
    path: str
    status: int
    body: str


@dataclass
class GitLabStub:
    """The stub server: set ``flags``, ``admin`` and ``token`` before or between requests."""

    token: str
    flags: list[Flag] = field(default_factory=list)
    admin: bool = True
    exchanges: list[Exchange] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GitLabStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.handle(self, "GET")

            def do_POST(self) -> None:
                stub.handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet: the tests read the exchanges instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode("utf-8") if length else ""
        # GitLab (Grape) routes take an optional trailing slash; python-gitlab sends one.
        path = request.path.split("?", 1)[0].rstrip("/")
        if method == "GET" and path == "/api/v4/features":
            status, answer = self._features(request)
        elif method == "POST" and path == "/api/graphql":
            status, answer = self._graphql(request, body)
        else:
            status, answer = 404, {"message": "404 Not Found"}
        self.exchanges.append(Exchange(method, path, status, body))
        payload = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _echo(self, request: BaseHTTPRequestHandler) -> str:
        return "; ".join(f"{name}: {value}" for name, value in request.headers.items())

    def _features(self, request: BaseHTTPRequestHandler) -> tuple[int, Any]:
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return 401, {"message": f"401 Unauthorized (headers: {self._echo(request)})"}
        if not self.admin:
            return 403, {"message": f"403 Forbidden (headers: {self._echo(request)})"}
        return 200, [
            {"name": flag.name, "state": flag.state, "gates": flag.gates, "definition": None}
            for flag in self.flags
        ]

    def _graphql(self, request: BaseHTTPRequestHandler, body: str) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": f"401 Unauthorized (headers: {self._echo(request)})"}
        query = str(json.loads(body or "{}").get("query", ""))
        # gql prints the parsed query again, one name per line and without commas.
        match = re.search(r"featureFlags\(\s*names:\s*\[([^\]]*)\]\s*\)", query)
        if match is None:
            return 200, {"errors": [{"message": "this stub answers only metadata.featureFlags"}]}
        names = re.findall(r'"([^"]*)"', match.group(1))
        known = {flag.name: flag.enabled() for flag in self.flags}
        # Defined flags that were never set are listed too, as disabled.
        listed = [{"name": name, "enabled": known.get(name, False)} for name in names]
        return 200, {"data": {"metadata": {"featureFlags": listed}}}
