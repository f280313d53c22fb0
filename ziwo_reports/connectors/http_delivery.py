"""What the webhook and HTTP API deliveries share: each item is one HTTP request, built as data
(`OutboundRequest`, which `plan()` shows with secrets masked), then sent in parallel under the one
HTTP policy (`send_requests`), each reply judged by the connector into an ItemResult.

- Retries are the policy's: connection errors, 429 and 5xx, with backoff and Retry-After. Redirects
  are never followed: the item fails, naming where it was sent.
- With the SSRF guard (the default for URLs users type), every connection goes to a public address
  that was checked; `allow_private_urls` on a target lifts it.
- A judge may say the target is gone (HTTP 410): nothing more is sent to it in this delivery, and
  each item not yet sent fails with a line that says so (the ledger keeps them for `replay`).
- Each worker thread has its own session (requests' sessions are not thread-safe); the
  credentials (an Auth object: a token, a signature) are shared.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from ziwo_reports.connectors.delivery import CheckResult, Item, ItemResult, in_parallel
from ziwo_reports.http import (
    ENV_PREFIX,
    ApiClient,
    Auth,
    HttpError,
    HttpPolicy,
    Reply,
    check_url,
    error_message,
    guard_session,
)
from ziwo_reports.http.ssrf import AddressRefused
from ziwo_reports.redaction import MASK, redact

#: Headers a target's options may not set: credentials go into its credentials block, and the
#: rest (ids, the body's type and length) is the delivery's own.
RESERVED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "host", "idempotency-key"})
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

#: Requests a plan shows in full.
SHOWN_REQUESTS = 3
#: Body bytes a plan shows of each request.
SHOWN_BODY = 4000
#: Characters of an answer's body a test send shows.
SHOWN_ANSWER = 200
PRIVATE_HINT = "allow_private_urls: true on the target allows it, for a receiver on your own network"


def check_target_url(url: str) -> str:
    """An http(s) URL with a host and without user:password, for a target's options; ValueError
    naming what is wrong (the field's error names the URL). No I/O: addresses are checked when
    connecting."""
    try:
        check_url(url)
    except ValueError as problem:
        raise ValueError(str(problem).removeprefix(f"{url!r}: ").removeprefix(f"{url!r} ")) from None
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "has user:password in it: credentials go into the credentials block (a token or secret headers), "
            "never into the URL"
        )
    return url


def check_headers(headers: Mapping[str, str], reserved_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers a target's options may send: real header names with one-line values, none that
    carries credentials or that the delivery sets itself (RESERVED_HEADERS, `content-*`, and the
    type's own prefixes such as `webhook-`); ValueError naming the header otherwise."""
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith(("content-", *reserved_prefixes)):
            raise ValueError(
                f"header {name!r} may not be set here: it is the delivery's own or carries credentials; "
                "a secret header goes into the credentials block (headers)"
            )
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of header {name!r} holds a line break")
    return dict(headers)


@dataclass(frozen=True)
class OutboundRequest:
    """One item as the request that delivers it. `headers` are those of the options and the item
    (ids, content type); credentials are added by the auth when it is sent."""

    key: str
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    rows: int = 0
    row_keys: tuple[str, ...] = ()
    sample: tuple[dict[str, Any], ...] = ()

    @property
    def payload_hash(self) -> str:
        digest = hashlib.sha256(f"{self.method} {self.url}\n".encode())
        digest.update(self.body or b"")
        return digest.hexdigest()

    def item(self) -> Item:
        return Item(
            key=self.key,
            target=self.url,
            method=self.method,
            rows=self.rows,
            payload_hash=self.payload_hash,
            row_keys=self.row_keys,
            sample=self.sample,
        )


def shown_request(request: OutboundRequest, auth: Auth | None) -> dict[str, Any]:
    """The request as it would go out, credentials applied and masked; nothing is sent."""
    prepared = requests.Request(request.method, request.url, headers=dict(request.headers), data=request.body).prepare()
    if auth is not None:
        auth(prepared)
        if getattr(auth, "token", "") is None:  # a token fetched when sending (OAuth2): not yet had
            prepared.headers["Authorization"] = f"Bearer {MASK}"
    body = request.body or b""
    text = body[:SHOWN_BODY].decode("utf-8", errors="replace") + (
        f"... ({len(body)} bytes)" if len(body) > SHOWN_BODY else ""
    )
    return {
        "key": request.key,
        "method": request.method,
        "url": redact(prepared.url or request.url),
        "headers": {name: redact(value) for name, value in prepared.headers.items()},
        "body": redact(text),
    }


def mask_url(url: str) -> str:
    """A URL for the ledger and messages: its query string's values masked when they look secret,
    its user info dropped."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))


def make_session(allow_private_urls: bool) -> requests.Session:
    """A session for URLs users type: public addresses only unless allowed, and never the
    environment's ~/.netrc credentials."""
    if allow_private_urls:
        session = requests.Session()
        session.trust_env = False
        return session
    return guard_session()


def failure(error: Exception) -> str:
    """An exception as the one line the ledger keeps."""
    message = " ".join(str(error).split())
    if isinstance(error, AddressRefused):
        message += f" ({PRIVATE_HINT})"
    return redact(message if isinstance(error, HttpError) else f"{type(error).__name__}: {message}")


def short_answer(reply: Reply, limit: int = SHOWN_ANSWER) -> str:
    """The start of a 2xx answer's body, one line, secrets masked: what a test send shows of it."""
    # only the start is decoded: an item's answer may be megabytes, and a delivery has thousands
    text = " ".join((reply.response.content or b"")[: limit * 4].decode("utf-8", errors="replace").split())
    return redact(text if len(text) <= limit else text[: limit - 3] + "...")


def status_line(reply: Reply) -> str:
    """`HTTP 422 <the server's message>`, for an item that failed."""
    return f"HTTP {reply.status} {error_message(reply.response)}"[:500]


Judge = Callable[[OutboundRequest, Reply], ItemResult]


class ThreadClients:
    """One ApiClient per worker thread (requests' sessions are not thread-safe), sharing policy and
    credentials; `make` builds one, `close` closes them all."""

    def __init__(self, make: Callable[[], ApiClient]) -> None:
        self._make = make
        self._local = threading.local()
        self._all: list[ApiClient] = []
        self._lock = threading.Lock()

    def get(self) -> ApiClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make()
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        for client in self._all:
            client.close()


def send_requests(
    outbound: Iterable[OutboundRequest],
    *,
    client: Callable[[], ApiClient],
    judge: Judge,
    concurrency: int = 8,
) -> Iterator[ItemResult]:
    """Send each request (at most `concurrency` at a time) and yield one ItemResult per request as
    it completes. A result with status `gone` stops the sending: the requests not yet sent are
    yielded as failed, naming the item that found the target gone."""
    clients = ThreadClients(client)
    gone: list[ItemResult] = []

    def one(request: OutboundRequest) -> ItemResult:
        if gone:
            return ItemResult(request.key, "failed", error=f"not sent: the target is gone ({gone[0].error})")
        try:
            reply = clients.get().request(
                request.method, request.url, headers=dict(request.headers), data=request.body, follow_redirects=False
            )
        except Exception as problem:  # every failure is the item's, in the ledger; none stops the others
            return ItemResult(request.key, "failed", error=failure(problem))
        result = judge(request, reply)
        if result.status == "gone":
            gone.append(result)
        return result

    try:
        yield from in_parallel(outbound, one, concurrency, "deliver")
    finally:
        clients.close()


def judge_status(request: OutboundRequest, reply: Reply, *, gone_on_410: bool = False) -> ItemResult | None:
    """The rules every HTTP delivery shares, or None for a 2xx (the connector's own to judge):
    a redirect fails (not followed), 410 is `gone` where the connector says so, any other status
    fails with the server's message."""
    status = reply.status
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        where = reply.response.headers.get("Location", "?")
        return ItemResult(
            request.key,
            "failed",
            error=redact(f"HTTP {status} redirect to {where}: not followed, deliveries go to the URL given"),
        )
    if status == 410 and gone_on_410:
        return ItemResult(request.key, "gone", error=f"HTTP 410 Gone from {mask_url(request.url)}")
    return ItemResult(request.key, "failed", error=redact(status_line(reply)))


def probe(client: ApiClient, method: str, url: str) -> CheckResult:
    """A harmless request to the target ("test connection"): reachable, and not refused. A 405
    (the receiver takes only POST) counts as reachable."""
    started = time.monotonic()
    try:
        reply = client.request(method, url, follow_redirects=False)
    except Exception as problem:
        return CheckResult(False, f"{method} {mask_url(url)}: {failure(problem)}")
    took = (time.monotonic() - started) * 1000
    status = reply.status
    ok = 200 <= status < 300 or status == 405 or (method != "HEAD" and status in (400, 422))
    verdict = "answers" if ok else "does not take deliveries"
    return CheckResult(ok, f"{method} {mask_url(url)}: HTTP {status} in {took:.0f} ms, {verdict}")


def delivery_policy(timeout_s: float, max_response_bytes: int) -> HttpPolicy:
    """The policy of a delivery's requests: the target's timeout for an answer, the whole attempt
    bounded by it plus the connect timeout (a receiver that trickles bytes cannot hold a worker),
    and a response cap fit for what is read of an answer (a status, an id): a hostile receiver
    cannot make each worker hold the toolkit's 64 MiB. ZIWO_REPORTS_HTTP_* variables still win."""
    connect = min(5.0, timeout_s)
    defaults: dict[str, Any] = {"read_timeout": timeout_s, "connect_timeout": connect, "deadline": timeout_s + connect}
    if not os.environ.get(ENV_PREFIX + "MAX_RESPONSE_BYTES"):
        defaults["max_response_bytes"] = max_response_bytes
    return HttpPolicy.from_env(**defaults)


def client_factory(
    url: str, policy: HttpPolicy, auth: Auth | None, allow_private_urls: bool
) -> Callable[[], ApiClient]:
    """What makes each worker's client: the target's origin, the policy, shared credentials."""
    return lambda: ApiClient(url, policy=policy, auth=auth, session=make_session(allow_private_urls))
