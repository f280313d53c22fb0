"""OAuth 2.0 client credentials against a real loopback token endpoint that issues short-lived
tokens, and an API on another origin that takes only tokens in force. Time is a clock the test
turns, shared by the client and both servers, so expiry costs no waiting."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest

from tests.conftest import Exchange, http_receiver
from ziwo_reports.http import ApiClient, AuthError, HttpPolicy, OAuth2ClientCredentials, RedirectRefused
from ziwo_reports.redaction import MASK, redact

POLICY = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=3, backoff_base=0.001, backoff_max=0.01, deadline=5)
CLIENT_ID, SECRET = "reports-client", "client-secret-0b5e9a"
LIFETIME = 600


def answer(status: int, body: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(body).encode()


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class AuthServer:
    """The token endpoint (POST /token) and the API (GET /records), each on its own origin."""

    clock: Clock
    lifetime: int = LIFETIME
    issued: list[str] = field(default_factory=list)
    expiry: dict[str, float] = field(default_factory=dict)
    refuse_all: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def client_of(self, exchange: Exchange) -> tuple[str | None, str | None]:
        form = {k: v[0] for k, v in parse_qs(exchange.body.decode()).items()}
        basic = exchange.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def token(self, exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(exchange.body.decode()).items()}
        if exchange.method != "POST" or form.get("grant_type") != "client_credentials":
            return answer(400, {"error": "unsupported_grant_type"})
        if self.client_of(exchange) != (CLIENT_ID, SECRET):
            return answer(401, {"error": "invalid_client", "error_description": "client authentication failed"})
        with self.lock:
            token = f"access-{next(self.numbers)}-f00dfeed"
            self.issued.append(token)
            self.expiry[token] = self.clock() + self.lifetime
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime, "scope": form.get("scope")}
        return answer(200, body)

    def api(self, exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
        header = exchange.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        with self.lock:
            good = header.startswith("Bearer ") and self.expiry.get(token, 0) > self.clock() and not self.refuse_all
        if not good:
            return answer(401, {"error": "invalid_token", "message": "token expired or unknown"})
        return answer(200, {"records": [{"id": 1}]})

    def revoke_all(self) -> None:
        with self.lock:
            self.expiry.clear()


def token_requests(rx) -> int:
    return sum(r.path == "/token" for r in rx.requests)


@pytest.fixture
def oauth():
    clock = Clock()
    server = AuthServer(clock)
    with http_receiver(server.token) as auth_rx, http_receiver(server.api) as api_rx:
        yield clock, server, auth_rx, api_rx


def make_client(auth_rx, api_rx, clock, **options) -> tuple[ApiClient, OAuth2ClientCredentials]:
    credentials = OAuth2ClientCredentials(auth_rx.base_url + "/token", CLIENT_ID, SECRET, clock=clock, **options)
    return ApiClient(api_rx.base_url, policy=POLICY, auth=credentials), credentials


def test_a_token_is_fetched_used_renewed_before_expiry_and_once_on_a_401(oauth, caplog):
    clock, server, auth_rx, api_rx = oauth
    caplog.set_level(logging.DEBUG)
    client, credentials = make_client(auth_rx, api_rx, clock, scope="records.read")
    with client:
        assert client.request("GET", "/records").response.json() == {"records": [{"id": 1}]}
        clock.now += 100
        assert client.request("GET", "/records").ok
        assert token_requests(auth_rx) == 1  # kept while in force
        assert parse_qs(auth_rx.requests[0].body.decode()) == {
            "grant_type": ["client_credentials"],
            "scope": ["records.read"],
        }  # the secret went in the Basic header, not the form

        # Within a minute of expiry (the refresh margin), a new token is fetched before the request:
        # the API never sees the old token refused.
        clock.now += LIFETIME - 100 - 59
        assert client.request("GET", "/records").ok
        assert token_requests(auth_rx) == 2 and client.stats.reauths == 0
        first, second = server.issued
        assert [r.headers["Authorization"] for r in api_rx.requests] == [f"Bearer {t}" for t in (first, first, second)]

        # Revoked early, server side: the 401 brings exactly one new token, and the request goes through.
        server.revoke_all()
        assert client.request("GET", "/records").ok
        assert token_requests(auth_rx) == 3 and client.stats.reauths == 1
        assert [r.headers["Authorization"] for r in api_rx.requests[-2:]] == [
            f"Bearer {server.issued[1]}",
            f"Bearer {server.issued[2]}",
        ]

        # Refused whatever the token: one new token, then a clear error.
        server.refuse_all = True
        with pytest.raises(AuthError) as caught:
            client.request("GET", "/records")
        assert token_requests(auth_rx) == 4
    message = str(caught.value)
    assert message == "GET /records refused: HTTP 401 token expired or unknown (a new access token did not help)"
    assert credentials.fetched == 4 and len(server.issued) == 4
    for secret in [SECRET, *server.issued]:
        assert secret not in caplog.text and secret not in message
        assert redact(f"[{secret}]") == f"[{MASK}]"  # registered as each came: masked wherever it would show
    assert base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode() not in caplog.text
    assert "new access token, valid 600 s" in caplog.text


def test_short_lived_tokens_are_renewed_at_half_their_life(oauth):
    clock, server, auth_rx, api_rx = oauth
    server.lifetime = 30  # shorter than the margin: renewed after half of it, not before every request
    client, _ = make_client(auth_rx, api_rx, clock)
    with client:
        for _ in range(3):
            assert client.request("GET", "/records").ok
        clock.now += 14
        assert client.request("GET", "/records").ok
        assert token_requests(auth_rx) == 1
        clock.now += 1
        assert client.request("GET", "/records").ok
        assert token_requests(auth_rx) == 2
        assert client.stats.reauths == 0  # renewed ahead: no request was refused


def test_client_secret_in_the_form_when_asked(oauth):
    clock, _, auth_rx, api_rx = oauth
    client, _ = make_client(auth_rx, api_rx, clock, client_auth="body", extra={"audience": "records"})
    with client:
        assert client.request("GET", "/records").ok
    token_request = auth_rx.requests[0]
    assert "Authorization" not in token_request.headers
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [SECRET],
        "audience": ["records"],
    }


def test_a_refused_client_is_an_error_naming_the_oauth_error_not_the_secret(oauth, caplog):
    clock, _, auth_rx, api_rx = oauth
    caplog.set_level(logging.DEBUG)
    credentials = OAuth2ClientCredentials(auth_rx.base_url + "/token", CLIENT_ID, "client-secret-wrong-77", clock=clock)
    with ApiClient(api_rx.base_url, policy=POLICY, auth=credentials) as client, pytest.raises(AuthError) as caught:
        client.request("GET", "/records")
    assert str(caught.value) == (
        f"token request to {auth_rx.base_url}/token for client 'reports-client' failed: "
        "HTTP 401 invalid_client (client authentication failed)"
    )
    assert api_rx.requests == [] and token_requests(auth_rx) == 1  # not retried, the API never asked
    assert "client-secret-wrong-77" not in caplog.text


def test_a_token_endpoint_that_redirects_to_another_host_gets_no_secret(oauth):
    _, _, auth_rx, api_rx = oauth
    with http_receiver(lambda e: (307, {"Location": auth_rx.base_url + "/token"}, b"")) as moved:
        credentials = OAuth2ClientCredentials(moved.base_url + "/token", CLIENT_ID, SECRET, client_auth="body")
        with ApiClient(api_rx.base_url, policy=POLICY, auth=credentials) as client, pytest.raises(RedirectRefused):
            client.request("GET", "/records")
        assert len(moved.requests) == 1
    assert auth_rx.requests == [] and api_rx.requests == []


def test_answers_that_are_not_a_bearer_token_are_errors():
    answers = iter(
        [
            answer(200, {"token_type": "Bearer"}),
            answer(200, {"access_token": "mac-token-123", "token_type": "mac"}),
            (404, {"Content-Type": "text/html"}, b"<html>not here</html>"),
        ]
    )
    with http_receiver(lambda e: next(answers)) as rx:
        client = ApiClient(rx.base_url, policy=POLICY, auth=OAuth2ClientCredentials(rx.base_url + "/t", "id", SECRET))
        expected = [
            r"HTTP 200 missing_token \(Missing access token parameter.\)",
            r"token type 'mac' is not supported \(only 'Bearer' is\)$",
            "failed: HTTP 404",
        ]
        for text in expected:
            with pytest.raises(AuthError, match=text):
                client.request("GET", "/records")
        assert [r.path for r in rx.requests] == ["/t"] * 3


def test_the_token_url_must_be_https_except_on_loopback():
    for url in ("http://login.example.com/token", "ftp://127.0.0.1/token", "http://10.0.0.1/token"):
        with pytest.raises(ValueError, match="must be an https URL"):
            OAuth2ClientCredentials(url, CLIENT_ID, SECRET)
    for url in (
        "https://login.example.com/token",
        "http://127.0.0.1:9/token",
        "http://[::1]:9/t",
        "http://localhost/t",
    ):
        OAuth2ClientCredentials(url, CLIENT_ID, SECRET)
    with pytest.raises(ValueError, match="client_id and a client_secret"):
        OAuth2ClientCredentials("https://login.example.com/token", CLIENT_ID, "")
