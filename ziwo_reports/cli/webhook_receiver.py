"""A webhook receiver for the demo and `ziwo-reports receive`: a real HTTP server on loopback (a
random port or a given one, in a thread) that checks each message's Standard Webhooks signature
with the `standardwebhooks` library, as a real receiver would, answers 204 (or 401 when the
signature does not verify), and keeps what came, per path, so the demo can print what each
workflow delivered; `on_arrival` hears of each message as it comes.

    with WebhookReceiver(secret) as receiver:
        url = receiver.url("/daily-agent-report/ops-dashboard")
        ...
        receiver.received("/daily-agent-report/ops-dashboard")  # [Arrived(...), ...]
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Arrived:
    """One message as the receiver got it: its id, type, envelope (None when the body is not JSON),
    whether its signature verified, and what the receiver answered."""

    id: str
    type: str
    envelope: dict[str, Any] | None
    verified: bool
    status: int


@dataclass(frozen=True)
class Summary:
    """What a path received: messages, distinct ids, counts by type, and how many failed the check."""

    messages: int
    distinct_ids: int
    types: dict[str, int]
    unverified: int


class WebhookReceiver:
    """A loopback webhook receiver verifying every message with `secret` (whsec_...)."""

    def __init__(self, secret: str, *, port: int = 0, on_arrival: Callable[[str, Arrived], None] | None = None) -> None:
        from standardwebhooks.webhooks import Webhook

        self._webhook = Webhook(secret)
        self._on_arrival = on_arrival
        self._lock = threading.Lock()
        self._arrived: dict[str, list[Arrived]] = defaultdict(list)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # the demo prints its own summary
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

            def do_HEAD(self) -> None:  # a connection check (`workflow test`) carries no event
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def received(self, path: str) -> list[Arrived]:
        with self._lock:
            return list(self._arrived.get(path, []))

    def summary(self, path: str) -> Summary:
        arrived = self.received(path)
        return Summary(
            messages=len(arrived),
            distinct_ids=len({message.id for message in arrived}),
            types=dict(Counter(message.type for message in arrived)),
            unverified=sum(not message.verified for message in arrived),
        )

    def _verified(self, body: bytes, headers: dict[str, str]) -> bool:
        from standardwebhooks.webhooks import WebhookVerificationError

        try:
            self._webhook.verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in handler.headers.items()}
        verified = self._verified(body, headers)
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        kind = envelope.get("type", "?") if isinstance(envelope, dict) else "?"
        status = 204 if verified else 401
        arrived = Arrived(headers.get("webhook-id", ""), str(kind), envelope, verified, status)
        path = urlsplit(handler.path).path
        with self._lock:
            self._arrived[path].append(arrived)
        if self._on_arrival is not None:
            self._on_arrival(path, arrived)
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
