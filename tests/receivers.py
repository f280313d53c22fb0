"""Real HTTP receivers on loopback for the webhook and HTTP API deliveries' tests: a threaded
server that keeps every request it got, per path, and answers as each path is told to:

    with Receiver() as receiver:
        url = receiver.url("/hooks/a")
        receiver.script("/hooks/a", [503, 429, 200], retry_after="1")   # then 200 for ever
        receiver.fail("/hooks/a", 410)                                 # every request: 410
        receiver.slow("/hooks/a", 0.02)                                # answer after 20 ms
        receiver.drop("/hooks/a", 1)                                   # close the next connection unanswered
        receiver.requests("/hooks/a")                                  # [Received(...), ...]

A path's `verify` (a list of whsec_ secrets) makes the receiver check each Standard Webhooks
signature with the `standardwebhooks` library, as a real receiver would (over the body, or for a
request without one over its raw query string; HEAD and OPTIONS probes are not checked): an
unsigned or badly signed request gets 401 and is kept with `verified=False`. A path's `authorize`
(a function of the request's headers and query) makes it answer 401 to each request the function
refuses, as an API checking credentials would. `events(path)` is what an idempotent receiver
holds: the last body per `webhook-id` (or `Idempotency-Key`) of the 2xx answers to requests other
than probes.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered
    verified: bool | None = None  # the signature check, when the path verifies

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _PathState:
    script: list[int] = field(default_factory=list)  # statuses to answer next, one per request
    always: int | None = None  # when the script is spent: this status (None: 200 or the reply)
    retry_after: str | None = None
    delay: float = 0.0
    drops: int = 0  # connections to close unanswered
    verify: list[str] | None = None
    reply: Any = None  # the JSON body of a 2xx answer
    location: str | None = None  # for 3xx answers
    authorize: Callable[[dict[str, str], dict[str, str]], bool] | None = None  # False: 401
    received: list[Received] = field(default_factory=list)


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, _PathState] = defaultdict(_PathState)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                receiver._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a short poll: shutdown() waits for it, and every test stops its receivers
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    # --- telling a path how to answer ---------------------------------------------------------

    def _state(self, path: str) -> _PathState:
        with self._lock:
            return self._paths[path]

    def script(self, path: str, statuses: list[int], retry_after: str | None = None) -> None:
        state = self._state(path)
        state.script, state.retry_after = list(statuses), retry_after

    def fail(self, path: str, status: int | None, location: str | None = None) -> None:
        """Answer every request with `status` from now on (None: back to normal)."""
        state = self._state(path)
        state.always, state.location = status, location

    def slow(self, path: str, seconds: float) -> None:
        self._state(path).delay = seconds

    def drop(self, path: str, connections: int = 1) -> None:
        self._state(path).drops = connections

    def verify(self, path: str, secrets: list[str]) -> None:
        self._state(path).verify = secrets

    def reply(self, path: str, body: Any) -> None:
        self._state(path).reply = body

    def authorize(self, path: str, check: Callable[[dict[str, str], dict[str, str]], bool] | None) -> None:
        """Answer 401 to each request whose (lower-case headers, query) `check` refuses; None: no check."""
        self._state(path).authorize = check

    # --- what arrived -----------------------------------------------------------------------

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return list(self._paths[path].received)

    def events(self, path: str) -> dict[str, Any]:
        """What an idempotent receiver holds: the last accepted body per id."""
        held: dict[str, Any] = {}
        for request in self.requests(path):
            if request.method in ("HEAD", "OPTIONS"):  # a probe, not an event
                continue
            key = request.headers.get("webhook-id") or request.headers.get("idempotency-key") or str(len(held))
            if 200 <= request.status < 300:
                held[key] = request.json() if request.body else request.query
        return held

    # --- the handler --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            state = self._paths[parts.path]
            if state.drops:
                state.drops -= 1
                drop = True
            else:
                drop = False
                status = state.script.pop(0) if state.script else (state.always or 200)
        if drop:  # the connection ends with no answer at all
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        verified = None
        if state.verify is not None and handler.command not in ("HEAD", "OPTIONS"):  # a probe carries no event
            verified = self._verified(state.verify, body or parts.query.encode(), headers)
            if not verified:
                status = 401
        query = dict(parse_qsl(parts.query))
        if state.authorize is not None and 200 <= status < 300 and not state.authorize(headers, query):
            status = 401
        received = Received(handler.command, parts.path, query, headers, body, status, verified)
        with self._lock:
            state.received.append(received)
        if state.delay:
            time.sleep(state.delay)
        reply = b""
        handler.send_response(status)
        if status in (429, 503) and state.retry_after is not None:
            handler.send_header("Retry-After", state.retry_after)
        if 300 <= status < 400:
            handler.send_header("Location", state.location or "http://127.0.0.1:9/elsewhere")
        if 200 <= status < 300 and state.reply is not None:
            reply = json.dumps(state.reply).encode()
        elif status >= 400:
            reply = json.dumps({"error": {"message": f"receiver says {status}"}}).encode()
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        if handler.command != "HEAD":
            try:
                handler.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: its right
                handler.close_connection = True

    @staticmethod
    def _verified(secrets: list[str], body: bytes, headers: dict[str, str]) -> bool:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
                return True
            except WebhookVerificationError:
                continue
        return False
