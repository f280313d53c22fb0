"""The HTTP policy's guards against hostile servers, over real loopback servers: redirects that
would carry credentials to another host, answers trickled to hold the client, bodies too large."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress

import pytest
import requests

from tests.conftest import Exchange, http_receiver
from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
from ziwo_reports.http import (
    DeadlineExceeded,
    HttpPolicy,
    HttpStats,
    RedirectRefused,
    ResponseTooLarge,
    TooManyRedirects,
    _origin,
    send,
)

POLICY = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=3, backoff_base=0.001, backoff_max=0.01, deadline=5)
PASSWORD = "pw-very-secret-4242"
TOKEN = "tok-guards-secret-9876"


def envelope(content=None) -> tuple[int, dict[str, str], bytes]:
    body = {"result": True, "content": content if content is not None else [], "info": {}}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def login_ok() -> tuple[int, dict[str, str], bytes]:
    return envelope({"access_token": TOKEN, "id": 1})


def client_for(url: str, **policy: object) -> ZiwoClient:
    http = HttpPolicy(**{**POLICY.__dict__, **policy}) if policy else POLICY
    return ZiwoClient(ZiwoSettings(base_url=url, username="supervisor@acme.ae", password=PASSWORD, http=http))


def nobody_home(_exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
    return envelope()


# --- redirects ------------------------------------------------------------------------------------


def test_login_redirected_to_another_port_sends_the_password_nowhere():
    with http_receiver(nobody_home) as other:

        def respond(exchange: Exchange):
            return 307, {"Location": other.base_url + "/auth/login"}, b""

        with (
            http_receiver(respond) as ziwo,
            client_for(ziwo.base_url) as client,
            pytest.raises(RedirectRefused) as caught,
        ):
            client.login()
        assert other.requests == []
        assert len(ziwo.requests) == 1  # refused for good, not retried
        assert PASSWORD in ziwo.requests[0].body.decode()  # the right host did get the login
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"POST {_origin(ziwo.base_url)} answered HTTP 307 with a redirect to {_origin(other.base_url)}"
    )
    assert "credentials are never sent to another host" in message
    assert PASSWORD not in message and "supervisor@acme.ae" not in message


def test_get_redirected_to_another_port_after_login_keeps_the_token_home():
    with http_receiver(nobody_home) as other:

        def respond(exchange: Exchange):
            if exchange.path == "/auth/login":
                return login_ok()
            return 302, {"Location": f"{other.base_url}/admin/agents/?access_token={TOKEN}"}, b""

        with (
            http_receiver(respond) as ziwo,
            client_for(ziwo.base_url) as client,
            pytest.raises(RedirectRefused) as caught,
        ):
            client.get("/admin/agents/", {"skip": 0})
        assert other.requests == []
        assert [e.path for e in ziwo.requests] == ["/auth/login", "/admin/agents/?skip=0"]
        assert ziwo.requests[1].headers["access_token"] == TOKEN
    message = str(caught.value)
    assert f"GET {_origin(ziwo.base_url)} answered HTTP 302 with a redirect to {_origin(other.base_url)}" in message
    assert TOKEN not in message


def test_a_change_of_scheme_or_host_on_the_same_port_is_refused_too():
    for location in ("https://127.0.0.1:{port}/x", "http://localhost:{port}/x", "//localhost:{port}/x"):
        where: dict[str, str] = {}
        with http_receiver(lambda e, where=where: (301, {"Location": where["location"]}, b"")) as rx:
            where["location"] = location.format(port=rx.base_url.rsplit(":", 1)[1])
            with pytest.raises(RedirectRefused, match="credentials are never sent to another host"):
                send(requests.Session(), "GET", rx.base_url + "/start", policy=POLICY)
            assert len(rx.requests) == 1


def test_origins_write_out_default_ports():
    assert _origin("http://Example.com/a?b=1") == _origin("http://example.com:80/") == "http://example.com:80"
    assert _origin("https://example.com") == "https://example.com:443"
    assert _origin("https://example.com:80") != _origin("http://example.com:80")
    assert _origin("http://[::1]:8080/x") == "http://[::1]:8080"


def test_same_host_redirects_are_followed_with_the_body_on_307_and_a_get_on_302():
    def respond(exchange: Exchange):
        if exchange.path == "/auth/login":
            return 307, {"Location": "/v2/auth/login"}, b""
        if exchange.path == "/v2/auth/login":
            return login_ok()
        if exchange.path.startswith("/admin/agents/"):
            return 302, {"Location": "/v2/admin/agents/?skip=0&limit=50"}, b""
        return envelope([{"id": 7}])

    with http_receiver(respond) as ziwo, client_for(ziwo.base_url) as client:
        assert client.login() == {"id": 1}
        content, _ = client.get("/admin/agents/", {"skip": 0, "limit": 50})
    assert content == [{"id": 7}]
    login, relogin, listing, relisted = ziwo.requests
    assert (listing.path, listing.headers["access_token"]) == ("/admin/agents/?skip=0&limit=50", TOKEN)
    assert (relogin.method, relogin.path) == ("POST", "/v2/auth/login")
    assert (
        json.loads(relogin.body) == json.loads(login.body) == {"username": "supervisor@acme.ae", "password": PASSWORD}
    )
    assert (relisted.method, relisted.path) == ("GET", "/v2/admin/agents/?skip=0&limit=50")
    assert relisted.headers["access_token"] == TOKEN


@pytest.mark.parametrize(("status", "method", "keeps_body"), [(301, "GET", False), (302, "GET", False),
                                                             (303, "GET", False), (307, "POST", True),
                                                             (308, "POST", True)])  # fmt: skip
def test_each_redirect_status_turns_into_a_get_or_keeps_method_and_body(status, method, keeps_body):
    def respond(exchange: Exchange):
        if exchange.path == "/form":
            return status, {"Location": "/done"}, b"moved"
        return envelope()

    with http_receiver(respond) as rx:
        reply = send(requests.Session(), "POST", rx.base_url + "/form", policy=POLICY, json={"a": 1})
    assert reply.status == 200
    moved = rx.requests[1]
    assert (moved.method, moved.path) == (method, "/done")
    assert moved.body == (b'{"a": 1}' if keeps_body else b"")
    assert ("Content-Type" in moved.headers) is keeps_body


def test_too_many_redirects_and_a_loop_are_clear_errors():
    def onwards(exchange: Exchange):
        hop = int(exchange.path.rsplit("/", 1)[1])
        return 302, {"Location": f"/hop/{hop + 1}"}, b""

    with http_receiver(onwards) as rx:
        with pytest.raises(TooManyRedirects) as caught:
            send(requests.Session(), "GET", rx.base_url + "/hop/0", policy=HttpPolicy(max_redirects=3))
        assert len(rx.requests) == 4  # the request and 3 redirects followed
    assert str(caught.value) == f"GET {rx.base_url}/hop/0: more than 3 redirects (max_redirects; set " \
        "ZIWO_REPORTS_HTTP_MAX_REDIRECTS to allow more)"  # fmt: skip

    with http_receiver(lambda e: (307, {"Location": "/b" if e.path == "/a" else "/a"}, b"")) as rx:
        with pytest.raises(TooManyRedirects, match=r"^POST .*/a: redirect loop, hop 2 leads back to /a$"):
            send(requests.Session(), "POST", rx.base_url + "/a", policy=POLICY, json={})
        assert [e.path for e in rx.requests] == ["/a", "/b"]


def test_a_redirect_status_without_location_is_returned_to_the_caller():
    with http_receiver(lambda e: (302, {}, b"no location")) as rx:
        reply = send(requests.Session(), "GET", rx.base_url + "/x", policy=POLICY)
    assert (reply.status, reply.response.content) == (302, b"no location")


# --- the deadline: a bare server for answers that http_receiver cannot give -------------------------


class RawServer:
    """A TCP server on loopback; `serve(connection, stop)` writes whatever bytes it likes."""

    def __init__(self, serve: Callable[[socket.socket, threading.Event], None]) -> None:
        self.serve = serve
        self.accepted = 0
        self.connection: socket.socket | None = None
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.connection is not None:  # a handler waiting for a request the client never sends
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.listener.close()
        assert not self.thread.is_alive()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self.connection = connection
            with connection:
                connection.settimeout(5)
                with suppress(OSError):  # the client hung up: what a cut-off looks like from here
                    self.serve(connection, self.stop)


def read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionResetError("client went away")
        data += chunk
    return data


def trickle(connection: socket.socket, data: bytes, stop: threading.Event, every: float = 0.1) -> None:
    for byte in data:
        if stop.is_set():
            return
        connection.sendall(bytes([byte]))
        time.sleep(every)


BODY = b"x" * 200  # 20 s at a byte every 0.1 s
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(BODY)
TRICKLED = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=3, backoff_base=0.001, deadline=1)


def trickled_body(connection: socket.socket, stop: threading.Event) -> None:
    read_request(connection)
    connection.sendall(HEAD)
    trickle(connection, BODY, stop)


def trickled_headers(connection: socket.socket, stop: threading.Event) -> None:
    read_request(connection)
    trickle(connection, HEAD.replace(b"\r\n\r\n", b"\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n") + BODY, stop)


def trickled_until_close(connection: socket.socket, stop: threading.Event) -> None:
    read_request(connection)  # no Content-Length: the body ends when the connection does
    connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    trickle(connection, BODY, stop)


def timed_failure(url: str, policy: HttpPolicy, session: requests.Session | None = None) -> tuple[float, str]:
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        send(session or requests.Session(), "GET", url, policy=policy, sleep=lambda s: None)
    return time.monotonic() - started, str(caught.value)


@pytest.mark.parametrize("serve", [trickled_body, trickled_headers, trickled_until_close])
def test_a_trickled_answer_is_cut_off_at_the_deadline_and_not_retried(serve):
    with RawServer(serve) as server:
        elapsed, message = timed_failure(server.url + "/callHistory/?skip=0", TRICKLED)
        assert server.accepted == 1
    assert 0.9 <= elapsed < 4, elapsed
    assert message == (
        f"GET {server.url}/callHistory/?skip=0: no complete answer within the 1 s deadline (connect, headers and "
        "body); stopped, set ZIWO_REPORTS_HTTP_DEADLINE to allow longer"
    )


def test_a_pooled_connection_reused_for_a_second_request_is_covered_too():
    def keep_alive_then_trickle(connection: socket.socket, stop: threading.Event) -> None:
        read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(connection)
        connection.sendall(HEAD)
        trickle(connection, BODY, stop)

    session = requests.Session()
    with RawServer(keep_alive_then_trickle) as server:
        assert send(session, "GET", server.url + "/first", policy=TRICKLED).response.content == b"ok"
        elapsed, message = timed_failure(server.url + "/second", TRICKLED, session)
        assert server.accepted == 1  # the second request went over the pooled connection
    assert 0.9 <= elapsed < 4, elapsed
    assert "/second: no complete answer within the 1 s deadline" in message


def test_a_slow_answer_within_the_deadline_succeeds_and_the_connection_is_reused():
    def slow(connection: socket.socket, stop: threading.Event) -> None:
        for _ in range(2):
            read_request(connection)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            trickle(connection, b"hello", stop)

    session = requests.Session()
    policy = HttpPolicy(connect_timeout=2, read_timeout=5, deadline=2)
    with RawServer(slow) as server:
        for _ in range(2):
            assert send(session, "GET", server.url, policy=policy).response.content == b"hello"  # about 0.5 s
        assert server.accepted == 1


# --- the size cap ---------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_by_its_content_length():
    capped = HttpPolicy(max_response_bytes=1000)
    with http_receiver(lambda e: (200, {}, b"y" * (1000 if e.path == "/fits" else 1001))) as rx:
        assert len(send(requests.Session(), "GET", rx.base_url + "/fits", policy=capped).response.content) == 1000
        with pytest.raises(ResponseTooLarge) as caught:
            send(requests.Session(), "GET", rx.base_url + "/big?skip=0", policy=capped)
        assert len(rx.requests) == 2  # not retried
    assert str(caught.value) == (
        f"GET {rx.base_url}/big?skip=0: response body is larger than max_response_bytes=1000 (Content-Length 1001); "
        "refused, set ZIWO_REPORTS_HTTP_MAX_RESPONSE_BYTES to allow more"
    )


def test_a_chunked_body_over_the_cap_is_refused_while_read():
    def chunked(connection: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            read_request(connection)
            connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            connection.sendall(b"%x\r\n%s\r\n" % (300, b"z" * 300) * 4 + b"0\r\n\r\n")

    session = requests.Session()
    with RawServer(chunked) as server:
        reply = send(session, "GET", server.url, policy=HttpPolicy(max_response_bytes=1200))
        assert reply.response.content == b"z" * 1200
        with pytest.raises(ResponseTooLarge, match=r"larger than max_response_bytes=1199 \(more than 1199 bytes"):
            send(session, "GET", server.url, policy=HttpPolicy(max_response_bytes=1199))


def test_a_gzip_body_is_capped_by_its_decoded_size():
    payload = json.dumps({"result": True, "content": ["0" * 1_000_000]}).encode()
    packed = gzip.compress(payload)
    assert len(packed) < 10_000
    with http_receiver(lambda e: (200, {"Content-Encoding": "gzip", "Content-Type": "application/json"}, packed)) as rx:
        reply = send(requests.Session(), "GET", rx.base_url, policy=HttpPolicy(max_response_bytes=len(payload)))
        assert reply.response.json()["content"] == ["0" * 1_000_000]
        with pytest.raises(ResponseTooLarge, match="larger than max_response_bytes=100000 "):
            send(requests.Session(), "GET", rx.base_url, policy=HttpPolicy(max_response_bytes=100_000))


# --- settings and sessions ---------------------------------------------------------------------------


def test_new_settings_come_from_the_environment_and_are_checked():
    env = {
        "ZIWO_REPORTS_HTTP_DEADLINE": "30.5",
        "ZIWO_REPORTS_HTTP_MAX_RESPONSE_BYTES": "1048576",
        "ZIWO_REPORTS_HTTP_MAX_REDIRECTS": "0",
    }
    policy = HttpPolicy.from_env(env)
    assert (policy.deadline, policy.max_response_bytes, policy.max_redirects) == (30.5, 1048576, 0)
    assert isinstance(policy.max_response_bytes, int) and isinstance(policy.max_redirects, int)
    defaults = HttpPolicy()
    assert (defaults.deadline, defaults.max_response_bytes, defaults.max_redirects) == (120, 64 * 1024 * 1024, 5)

    bad_env = [
        ("ZIWO_REPORTS_HTTP_MAX_REDIRECTS", "2.5", "must be a whole number, got '2.5'"),
        ("ZIWO_REPORTS_HTTP_MAX_RESPONSE_BYTES", "64MiB", "must be a whole number, got '64MiB'"),
        ("ZIWO_REPORTS_HTTP_MAX_RESPONSE_BYTES", "0", "must be at least 1, got 0"),
        ("ZIWO_REPORTS_HTTP_DEADLINE", "0", "must be greater than 0, got 0.0"),
        ("ZIWO_REPORTS_HTTP_DEADLINE", "inf", "must be a finite number, got inf"),
        ("ZIWO_REPORTS_HTTP_READ_TIMEOUT", "-1", "must not be negative, got -1.0"),
    ]
    for name, raw, problem in bad_env:
        with pytest.raises(ValueError) as caught:
            HttpPolicy.from_env({name: raw})
        assert str(caught.value) == f"{name} {problem}"

    bad_fields = [
        ({"deadline": -1}, "deadline must be greater than 0, got -1"),
        ({"deadline": float("nan")}, "deadline must be a finite number, got nan"),
        ({"max_redirects": -1}, "max_redirects must be at least 0, got -1"),
        ({"max_response_bytes": 1.5}, "max_response_bytes must be a whole number, got 1.5"),
        ({"attempts": 0}, "attempts must be at least 1, got 0"),
    ]
    for values, message in bad_fields:
        with pytest.raises(ValueError) as caught:
            HttpPolicy(**values)
        assert str(caught.value) == message


def test_any_requests_session_gets_the_guards_and_keeps_its_pool_settings():
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=3, max_retries=2))
    with http_receiver(lambda e: envelope()) as rx:
        assert send(session, "GET", rx.base_url, policy=POLICY, stats=HttpStats()).ok
        adapter = session.get_adapter(rx.base_url)
        assert type(adapter).__name__ == "_WatchedAdapter"
        assert (adapter._pool_maxsize, adapter.max_retries.total) == (3, 2)
        assert session.get_adapter("https://example.com") is not adapter  # https keeps its own, unwatched yet

    class Foreign(requests.adapters.BaseAdapter):
        pass

    session.mount("http://", Foreign())
    with pytest.raises(TypeError, match="deadline through requests' HTTPAdapter"):
        send(session, "GET", "http://127.0.0.1:9/x", policy=POLICY)
