"""The one HTTP policy of the product: timeouts, an overall deadline and a size cap per request,
same-origin redirects only, and retries with capped exponential backoff, full jitter and
`Retry-After`. Every connector sends through `send` (most through `ApiClient`, which calls it)."""

from __future__ import annotations

import email.utils
import heapq
import itertools
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri

from ziwo_reports.http.classify import Action, Classifier, Verdict
from ziwo_reports.http.errors import (
    DeadlineExceeded,
    HttpError,
    RedirectRefused,
    ResponseTooLarge,
    RetriesExhausted,
    TooManyRedirects,
)

log = logging.getLogger(__name__)

ENV_PREFIX = "ZIWO_REPORTS_HTTP_"

_INTEGER_FIELDS = frozenset({"attempts", "max_redirects", "max_response_bytes"})
_MINIMUM = {"attempts": 1, "max_redirects": 0, "max_response_bytes": 1}


def _problem(field_name: str, value: Any) -> str | None:
    """What is wrong with `value` for a policy field, or None."""
    if field_name in _INTEGER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
        if value < _MINIMUM[field_name]:
            return f"must be at least {_MINIMUM[field_name]}, got {value!r}"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if field_name == "deadline" and value <= 0:
        return f"must be greater than 0, got {value!r}"
    if value < 0:
        return f"must not be negative, got {value!r}"
    return None


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts in seconds; `attempts` counts the first try. `deadline` bounds one attempt whole
    (connect, headers, body and same-host redirects); `max_response_bytes` counts the decoded body."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    deadline: float = 120.0
    max_response_bytes: int = 64 * 1024 * 1024
    max_redirects: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = _problem(f.name, getattr(self, f.name))
            if problem:
                raise ValueError(f"{f.name} {problem}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HttpPolicy:
        """Read `ZIWO_REPORTS_HTTP_<FIELD>` variables (e.g. `ZIWO_REPORTS_HTTP_ATTEMPTS=8`)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = environ.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                value: Any = int(raw) if f.name in _INTEGER_FIELDS else float(raw)
            except ValueError:
                kind = "a whole number" if f.name in _INTEGER_FIELDS else "a number"
                raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
            problem = _problem(f.name, value)
            if problem:
                raise ValueError(f"{name} {problem}")
            values[f.name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    reauths: int = 0  # credentials renewed after the server refused them (a re-login, a new token)


@dataclass
class Reply:
    response: requests.Response
    data: Any = None  # what `parse` returned, for a 2xx response
    verdict: Verdict | None = None  # the classifier's, when it asked to re-authenticate

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def ok(self) -> bool:
        return 200 <= self.response.status_code < 300


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(
    retry_number: int, policy: HttpPolicy, retry_after: str | None = None, rng: random.Random | None = None
) -> float:
    """Delay before retry `retry_number` (1-based): the server's Retry-After when given (capped),
    otherwise full jitter over an exponentially growing, capped window."""
    asked = parse_retry_after(retry_after)
    if asked is not None:
        return min(asked, policy.retry_after_max)
    window = min(policy.backoff_max, policy.backoff_base * 2 ** (retry_number - 1))
    return (rng or random).uniform(0.0, window)


# --- the deadline: a watchdog that shuts down the sockets of the current attempt ----------------
#
# requests and urllib3 only know per-operation timeouts, which a server resets with every byte it
# trickles. A timer per attempt shuts the attempt's sockets down instead; whatever is blocked on
# them (connect's TLS handshake, the status line, the body) returns at once. Sockets are found by
# connection classes mounted on the session (`_WatchedAdapter`) that report to the attempt of the
# current thread: a fresh connection when it is opened, a pooled one when a request starts on it.
# Connecting itself is bounded by connect_timeout: a deadline that passes meanwhile shuts the
# socket down the moment it exists.

_current = threading.local()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watch:
    """The sockets one attempt uses, shut down when its deadline passes. It holds duplicates of
    their descriptors (closed with the watch), so it never touches a descriptor that the
    connection closed and the process reused meanwhile; shutdown acts on the socket behind both."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self.stopped = False
        self.seconds = seconds

    def add(self, sock: socket.socket) -> None:
        try:
            fd = os.dup(sock.fileno())
        except (OSError, ValueError):  # already closed: nothing left to stop
            return
        try:
            # A plain socket on the duplicate, whatever wraps the original (TLS, a TLS-in-TLS transport).
            dup = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            return
        with self._lock:
            self._sockets.append(dup)
            if self.fired:
                _shutdown(dup)

    def fire(self) -> None:
        with self._lock:
            if self.stopped:
                return
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def start(self) -> None:
        _WATCHDOG.watch(self, time.monotonic() + self.seconds)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            sockets, self._sockets = self._sockets, []
            for sock in sockets:
                sock.close()
        _WATCHDOG.forget()


class _Watchdog:
    """One thread for the deadlines of every attempt in the process: a thread per attempt would
    cost more than a request to a nearby server (hundreds of deliveries a second, in parallel).
    Deadlines wait in a heap; a stopped watch stays there until its time comes, or until the
    stopped outnumber the live ones and the heap is rebuilt."""

    def __init__(self) -> None:
        self._wake = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watch]] = []
        self._count = itertools.count()
        self._live = 0
        self._thread: threading.Thread | None = None

    def watch(self, watch: _Watch, at: float) -> None:
        with self._wake:
            heapq.heappush(self._heap, (at, next(self._count), watch))
            self._live += 1
            if self._thread is None or not self._thread.is_alive():  # first use, or a forked child
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._wake.notify()

    def forget(self) -> None:
        with self._wake:
            self._live -= 1
            if len(self._heap) > 64 and len(self._heap) > 2 * self._live:
                self._heap = [entry for entry in self._heap if not entry[2].stopped]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                at, _, watch = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0 and not watch.stopped:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            watch.fire()  # outside the heap's lock: it shuts sockets down


_WATCHDOG = _Watchdog()


def _watch_current(sock: socket.socket | None) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        watch.add(sock)


@contextmanager
def _watching(seconds: float) -> Iterator[_Watch]:
    watch = _Watch(seconds)
    previous = getattr(_current, "watch", None)
    _current.watch = watch
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
        _current.watch = previous


class _WatchedConnection:
    """Mixed into urllib3's connection classes: report each socket to the current attempt."""

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        _watch_current(sock)  # before the TLS handshake and the request: both are covered
        return sock

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _watch_current(self.sock)  # type: ignore[attr-defined]  # a pooled connection, reused
        return super().request(*args, **kwargs)  # type: ignore[misc]


_watched_pools: dict[tuple[type, tuple[type, ...]], type] = {}
_watched_lock = threading.Lock()


def _watched_pool(pool_cls: type, mixins: tuple[type, ...] = ()) -> type:
    """`pool_cls` with a connection class that reports its sockets to the deadline, and that has
    `mixins` (e.g. the SSRF guard's) between the watch and urllib3's own connection class."""
    if issubclass(pool_cls.ConnectionCls, _WatchedConnection):
        return pool_cls
    with _watched_lock:
        if (pool_cls, mixins) not in _watched_pools:
            base = pool_cls.ConnectionCls
            name = "".join(m.__name__.strip("_") for m in mixins) + base.__name__
            conn_cls = type(f"Watched{name}", (_WatchedConnection, *mixins, base), {})
            pool = type(f"Watched{name}Pool", (pool_cls,), {"ConnectionCls": conn_cls})
            _watched_pools[(pool_cls, mixins)] = pool
        return _watched_pools[(pool_cls, mixins)]


def _watch_manager(manager: Any, mixins: tuple[type, ...] = ()) -> Any:
    manager.pool_classes_by_scheme = {
        scheme: _watched_pool(pool_cls, mixins) for scheme, pool_cls in manager.pool_classes_by_scheme.items()
    }
    return manager


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connection classes that let the deadline find their sockets,
    proxy managers' pools included. A subclass may add `connection_mixins`."""

    connection_mixins: tuple[type, ...] = ()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_manager(self.poolmanager, self.connection_mixins)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watch_manager(super().proxy_manager_for(proxy, **proxy_kwargs), self.connection_mixins)


_mount_lock = threading.Lock()


def _watch_session(session: requests.Session, url: str) -> None:
    """Make sure the adapter `session` uses for `url` is a watched one. requests' own adapter is
    replaced by one with the same settings; another adapter cannot be watched and is refused."""
    with _mount_lock:
        adapter = session.get_adapter(url)
        if isinstance(adapter, _WatchedAdapter):
            return
        if type(adapter) is not HTTPAdapter:
            raise TypeError(
                f"send enforces its deadline through requests' HTTPAdapter; the session's adapter for this URL "
                f"is a {type(adapter).__name__}"
            )
        watched = _WatchedAdapter(
            pool_connections=adapter._pool_connections,
            pool_maxsize=adapter._pool_maxsize,
            max_retries=adapter.max_retries,
            pool_block=adapter._pool_block,
        )
        for prefix, mounted in list(session.adapters.items()):
            if mounted is adapter:
                session.mount(prefix, watched)
        adapter.close()


# --- redirects: same origin only ------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_BODY_ARGUMENTS = ("data", "json", "files")
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


def _origin(url: str) -> str:
    """`scheme://host:port` of `url`, with the default port written out; ValueError if unusable."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port}"


def _path(url: str) -> str:
    """The path of `url`, without query or fragment, for messages."""
    return urlsplit(url).path or "/"


def _drop_body_on_redirect(kwargs: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in kwargs.items() if k not in _BODY_ARGUMENTS}
    if kept.get("headers"):
        kept["headers"] = {k: v for k, v in kept["headers"].items() if k.lower() not in _BODY_HEADERS}
    return kept


def _skip_redirect_body(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A response hook. With allow_redirects=False, requests still reads a redirect's whole body
    (unbounded) to work out where it leads; a redirect's body is never used here, so it is
    dropped unread (the connection closes rather than returning to the pool)."""
    if response.is_redirect:
        response.raw.close()
        response._content = b""
        response._content_consumed = True
    return response


def _with_hook(kwargs: dict[str, Any]) -> dict[str, Any]:
    hooks = dict(kwargs.get("hooks") or {})
    theirs = hooks.get("response") or []
    hooks["response"] = [_skip_redirect_body, *(theirs if isinstance(theirs, list) else [theirs])]
    return {**kwargs, "hooks": hooks}


def _follow(
    session: requests.Session, method: str, url: str, policy: HttpPolicy, kwargs: dict[str, Any], follow: bool = True
) -> requests.Response:
    """One request and the same-origin redirects it leads to; the last response, body unread.
    With `follow` False, a redirect is the response (its body dropped), for the caller to judge."""
    origin = _origin(url)
    seen: set[tuple[str, str]] = set()
    hop_method, hop_url, hop_kwargs = method, url, _with_hook(kwargs)
    for hop in range(policy.max_redirects + 1):
        response = session.request(hop_method, hop_url, **hop_kwargs)
        target = session.get_redirect_target(response) if response.status_code in _REDIRECT_STATUSES else None
        if target is None or not follow:
            return response
        response.close()
        seen.add((hop_method, response.url))
        try:
            target_url = urldefrag(urljoin(response.url, requote_uri(target))).url
            target_origin = _origin(target_url)
        except ValueError:
            target_origin = "an unusable Location"
        if target_origin != origin:
            raise RedirectRefused(
                f"{method} {origin} answered HTTP {response.status_code} with a redirect to {target_origin}: "
                "refused, credentials are never sent to another host (only the same scheme, host and port is followed)",
                status=response.status_code,
                url=url,
            )
        if response.status_code in (301, 302, 303) and hop_method != "HEAD":
            hop_method, hop_kwargs = "GET", _drop_body_on_redirect(hop_kwargs)
        if (hop_method, target_url) in seen:
            raise TooManyRedirects(
                f"{method} {url}: redirect loop, hop {hop + 1} leads back to {_path(target_url)}",
                status=response.status_code,
                url=url,
            )
        # The Location is a whole URL: the caller's query parameters are not added to it again.
        hop_url, hop_kwargs = target_url, {k: v for k, v in hop_kwargs.items() if k != "params"}
    raise TooManyRedirects(
        f"{method} {url}: more than {policy.max_redirects} redirects "
        f"(max_redirects; set {ENV_PREFIX}MAX_REDIRECTS to allow more)",
        status=response.status_code,
        url=url,
    )


# --- the size cap ---------------------------------------------------------------------------------

_CHUNK = 64 * 1024  # urllib3 (2.6+) decompresses at most this much per read, so a gzip bomb stays small


def _too_large(method: str, url: str, policy: HttpPolicy, seen: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{method} {url}: response body is larger than max_response_bytes={policy.max_response_bytes} ({seen}); "
        f"refused, set {ENV_PREFIX}MAX_RESPONSE_BYTES to allow more",
        url=url,
    )


def _read_body(response: requests.Response, method: str, url: str, policy: HttpPolicy) -> None:
    """Read the body under the cap, counting decoded bytes, and keep it as `response.content`."""
    limit = policy.max_response_bytes
    declared = (response.headers.get("Content-Length") or "").strip()
    has_body = response.request.method != "HEAD" and response.status_code not in (204, 304)
    if has_body and declared.isdigit() and int(declared) > limit:
        raise _too_large(method, url, policy, f"Content-Length {declared}")
    body = bytearray()
    for chunk in response.iter_content(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _too_large(method, url, policy, f"more than {limit} bytes read")
    response._content = bytes(body)
    response._content_consumed = True


def _deadline_exceeded(method: str, url: str, policy: HttpPolicy) -> DeadlineExceeded:
    return DeadlineExceeded(
        f"{method} {url}: no complete answer within the {policy.deadline:g} s deadline (connect, headers and body); "
        f"stopped, set {ENV_PREFIX}DEADLINE to allow longer",
        url=url,
    )


def _attempt(
    session: requests.Session, method: str, url: str, policy: HttpPolicy, kwargs: dict[str, Any], follow: bool
) -> requests.Response:
    """One attempt under the deadline: the final response, its body read (under the cap)."""
    response: requests.Response | None = None
    with _watching(policy.deadline) as watch:
        try:
            response = _follow(session, method, url, policy, kwargs, follow)
            _read_body(response, method, url, policy)
        except HttpError:
            if response is not None:
                response.close()
            raise
        except Exception:
            if response is not None:
                response.close()
            if watch.fired:  # the watchdog's shutdown is what broke the exchange
                raise _deadline_exceeded(method, url, policy) from None
            raise
        if watch.fired:  # a body that ends with the connection may have been cut short
            response.close()
            raise _deadline_exceeded(method, url, policy)
    return response


_RETRIED_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # the connection broke mid-body
    requests.exceptions.ContentDecodingError,
)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: HttpPolicy,
    stats: HttpStats | None = None,
    parse: Callable[[requests.Response], Any] | None = None,
    classify: Classifier | None = None,
    sleep: Callable[[float], None] = time.sleep,
    follow_redirects: bool = True,
    **kwargs: Any,
) -> Reply:
    """Send a request under `policy`.

    Connection errors, timeouts, 429, 5xx and (when `parse` is given) a 2xx body that `parse`
    rejects with ValueError are retried. Any other status is returned to the caller, who knows
    what a 401 or 404 means for its API. Raises RetriesExhausted when the attempts run out.

    `classify`, the connector's hook, sees each response first (body read) and may say otherwise:
    retry it (backoff and Retry-After as above), fail with its own error class (not retried),
    ask for re-authentication (returned with `verdict` set: the caller holds the credentials),
    or take it as it is; None leaves the response to the rules above.

    Redirects are followed here, never by requests: only to the same scheme, host and port
    (RedirectRefused otherwise), at most `max_redirects` (TooManyRedirects); 301/302/303 become
    a GET without body, 307/308 keep both. A requests `auth` object is applied to each hop, so
    credentials reach only the origin asked. With `follow_redirects` False, a redirect is returned
    as the response (a webhook delivers to the URL given, or fails). Each attempt ends at `deadline` (DeadlineExceeded)
    and its body may hold at most `max_response_bytes` (ResponseTooLarge); neither is retried.
    """
    stats = stats if stats is not None else HttpStats()
    kwargs.setdefault("timeout", policy.timeout)
    kwargs.update(allow_redirects=False, stream=True)
    _watch_session(session, url)
    for attempt in range(1, policy.attempts + 1):
        stats.requests += 1
        retry_after: str | None = None
        try:
            response = _attempt(session, method, url, policy, kwargs, follow_redirects)
        except _RETRIED_ERRORS as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            verdict = (classify(response) if classify is not None else None) or _by_status(response)
            if verdict.action is Action.FAIL:
                assert verdict.error is not None  # Verdict checks it
                response.close()
                raise verdict.error(f"{method} {url}: {verdict.reason}", status=response.status_code, url=url)
            if verdict.action is Action.REAUTHENTICATE:
                return Reply(response, verdict=verdict)
            if verdict.action is Action.RETRY:
                retry_after = response.headers.get("Retry-After")
                problem = verdict.reason or f"HTTP {response.status_code}"
            elif parse is not None and 200 <= response.status_code < 300:
                try:
                    return Reply(response, parse(response))
                except ValueError as exc:
                    problem = f"unreadable response body ({len(response.content)} bytes): {exc}"
            else:
                return Reply(response)
        if attempt == policy.attempts:
            raise RetriesExhausted(f"{method} {url} failed after {attempt} attempts; last error: {problem}", url=url)
        delay = retry_delay(attempt, policy, retry_after)
        stats.retries += 1
        log.warning("%s %s: %s; retry %d of %d in %.2f s", method, url, problem, attempt, policy.attempts - 1, delay)
        sleep(delay)
    raise AssertionError("unreachable")


_OK = Verdict.ok()


def _by_status(response: requests.Response) -> Verdict:
    """The policy's own rule: 429 and 5xx are retried, every other status is the caller's."""
    if is_retryable_status(response.status_code):
        return Verdict.retry(f"HTTP {response.status_code}")
    return _OK
