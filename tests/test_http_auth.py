"""The toolkit's credentials against real loopback servers: a login token with one re-login, a
bearer token, basic, an API key in a header or the query; their secrets in no log line or error;
and no credentials ever sent to another host, by redirect or by URL."""

from __future__ import annotations

import base64
import json
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Exchange, http_receiver
from ziwo_reports.http import (
    ApiClient,
    ApiKeyAuth,
    AuthError,
    BasicAuth,
    BearerAuth,
    CrossOriginRefused,
    HttpPolicy,
    LoginTokenAuth,
    RedirectRefused,
)
from ziwo_reports.redaction import MASK, redact

POLICY = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=3, backoff_base=0.001, backoff_max=0.01, deadline=5)


def answer(status: int, body: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class TokenServer:
    """Issues `tok-login-<n>-secret` on POST /login; GET /data takes only a token in force."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.refuse_all = False
        self.expired_status = 401

    def respond(self, exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if exchange.path == "/login":
                if json.loads(exchange.body) != {"user": "bi", "password": "pw-login-secret-77"}:
                    return answer(401, {"message": "bad password"})
                token = f"tok-login-{len(self.issued) + 1}-secret"
                self.issued.append(token)
                self.valid = {token}
                return answer(200, {"token": token})
            token = exchange.headers.get("X-Token")
            if self.refuse_all or token not in self.valid:
                return answer(self.expired_status, {"message": "token expired"})
            return answer(200, {"rows": [1, 2, 3]})

    def expire(self) -> None:
        with self.lock:
            self.valid = set()


def login_client(server_url: str, **auth_options: object) -> ApiClient:
    client = ApiClient(server_url, policy=POLICY)

    def login() -> str:
        reply = client.request(
            "POST", "/login", json={"user": "bi", "password": "pw-login-secret-77"}, authenticate=False
        )
        if not reply.ok:
            raise AuthError(f"login failed: HTTP {reply.status}", status=reply.status)
        return reply.response.json()["token"]

    client.auth = LoginTokenAuth(login, header="X-Token", secrets=["pw-login-secret-77"], **auth_options)  # type: ignore[arg-type]
    return client


def logins(rx) -> int:
    return sum(r.path == "/login" for r in rx.requests)


def test_a_login_token_is_fetched_once_renewed_once_on_expiry_and_then_refused(caplog):
    server = TokenServer()
    with caplog.at_level(logging.DEBUG), http_receiver(server.respond) as rx, login_client(rx.base_url) as client:
        assert client.request("GET", "/data").response.json() == {"rows": [1, 2, 3]}
        assert client.request("GET", "/data").ok
        assert logins(rx) == 1  # the token is kept between requests
        assert rx.requests[1].headers["X-Token"] == server.issued[0]

        server.expire()
        assert client.request("GET", "/data").ok
        assert logins(rx) == 2 and client.stats.reauths == 1  # exactly one fresh login
        assert [r.headers.get("X-Token") for r in rx.requests[-3:]] == [server.issued[0], None, server.issued[1]]

        server.refuse_all = True
        with pytest.raises(AuthError) as caught:
            client.request("GET", "/data")
        assert logins(rx) == 3 and client.stats.reauths == 2  # one more login for this request, not two
        assert str(caught.value) == "GET /data refused: HTTP 401 token expired (a fresh login did not help)"
        assert caught.value.status == 401

    with http_receiver(server.respond) as rx, login_client(rx.base_url) as client:  # refused from the start
        with pytest.raises(AuthError, match="a fresh login did not help"):
            client.request("GET", "/data")
        assert [r.path for r in rx.requests] == ["/login", "/data", "/login", "/data"]
    for secret in ["pw-login-secret-77", *server.issued]:
        assert secret not in caplog.text
        assert redact(f"said {secret}.") == f"said {MASK}.", "every token and the password are masked wherever shown"
    assert "getting a fresh login" in caplog.text


def test_which_status_means_expired_is_the_connectors_choice():
    server = TokenServer()
    server.expired_status = 403
    with http_receiver(server.respond) as rx:
        with login_client(rx.base_url, expired=(403,)) as client:  # Ziwo's way
            client.request("GET", "/data")
            server.expire()
            assert client.request("GET", "/data").ok and logins(rx) == 2

        with login_client(rx.base_url, expired=(401,)) as client:  # 403 is not expiry here: refused at once
            client.request("GET", "/data")
            server.expire()
            with pytest.raises(AuthError, match=r"^GET /data refused: HTTP 403 token expired"):
                client.request("GET", "/data")
            assert logins(rx) == 3 and client.stats.reauths == 0


def test_a_token_given_without_a_login_is_used_until_refused():
    server = TokenServer()
    server.valid = {"tok-given-secret-5"}
    with http_receiver(server.respond) as rx:
        auth = LoginTokenAuth(None, header="X-Token", token="tok-given-secret-5", cannot_renew_hint="give a new one")
        with ApiClient(rx.base_url, policy=POLICY, auth=auth) as client:
            assert client.request("GET", "/data").ok
            server.expire()
            with pytest.raises(AuthError) as caught:
                client.request("GET", "/data")
        assert logins(rx) == 0
    assert str(caught.value) == "GET /data refused: HTTP 401 token expired (give a new one)"


def test_a_failed_login_is_the_logins_error_and_shows_no_password():
    def respond(exchange: Exchange):
        return answer(401, {"message": "bad password pw-wrong-secret-1"})

    with http_receiver(respond) as rx:
        client = ApiClient(rx.base_url, policy=POLICY)

        def login() -> str:
            reply = client.request("POST", "/login", json={"password": "pw-wrong-secret-1"}, authenticate=False)
            raise AuthError(f"login failed: HTTP {reply.status} {reply.response.text}", status=reply.status)

        client.auth = LoginTokenAuth(login, header="X-Token", secrets=["pw-wrong-secret-1"])
        with pytest.raises(AuthError) as caught:
            client.request("GET", "/data")
        assert [r.path for r in rx.requests] == ["/login"]  # no request without a token
    assert "pw-wrong-secret-1" not in str(caught.value) and "login failed: HTTP 401" in str(caught.value)


# --- fixed credentials ------------------------------------------------------------------------------

BEARER = "bearer-token-secret-123"
USER, PASSWORD = "reports@acme.test", "basic-password-secret-456"
KEY = "api-key-secret-789"


def checking(exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
    """Accepts each scheme on its own path, exactly as the scheme says it is sent."""
    url = urlsplit(exchange.path)
    query = parse_qs(url.query)
    got = {
        "/bearer-token": exchange.headers.get("Authorization") == f"Bearer {BEARER}",
        "/basic": exchange.headers.get("Authorization")
        == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        "/header-key": exchange.headers.get("X-Api-Key") == KEY,
        "/query-key": query.get("api_key") == [KEY] and "X-Api-Key" not in exchange.headers,
    }
    if got.get(url.path):
        return answer(200, {"ok": True})
    return answer(401, {"error": {"message": "unauthorized"}})


SCHEMES = {
    "/bearer-token": lambda: BearerAuth(BEARER),
    "/basic": lambda: BasicAuth(USER, PASSWORD),
    "/header-key": lambda: ApiKeyAuth(KEY, name="X-Api-Key"),
    "/query-key": lambda: ApiKeyAuth(KEY, name="api_key", location="query"),
}
WRONG = {
    "/bearer-token": lambda: BearerAuth("bearer-wrong-secret"),
    "/basic": lambda: BasicAuth(USER, "basic-wrong-secret"),
    "/header-key": lambda: ApiKeyAuth("key-wrong-secret", name="X-Api-Key"),
    "/query-key": lambda: ApiKeyAuth("key-wrong-secret", name="api_key", location="query"),
}
HINTS = {
    "/bearer-token": "the token was refused: check that it is valid and allowed to do this",
    "/basic": f"user name {USER!r} and its password were refused",
    "/header-key": "the API key in header 'X-Api-Key' was refused",
    "/query-key": "the API key in query 'api_key' was refused",
}


@pytest.mark.parametrize("path", list(SCHEMES))
def test_fixed_credentials_go_where_the_scheme_says_and_a_refusal_names_no_secret(path, caplog):
    with caplog.at_level(logging.DEBUG), http_receiver(checking) as rx:
        with ApiClient(rx.base_url, policy=POLICY, auth=SCHEMES[path]()) as client:
            assert client.request("GET", path, params={"page": 1}).response.json() == {"ok": True}
        with ApiClient(rx.base_url, policy=POLICY, auth=WRONG[path]()) as client, pytest.raises(AuthError) as caught:
            client.request("GET", path)
        assert len(rx.requests) == 2  # a refused fixed credential is not retried
    assert str(caught.value) == f"GET {path} refused: HTTP 401 unauthorized ({HINTS[path]})"
    for secret in (BEARER, PASSWORD, KEY, "bearer-wrong-secret", "basic-wrong-secret", "key-wrong-secret"):
        assert secret not in caplog.text and secret not in str(caught.value)
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert encoded not in caplog.text
    shown = {"/bearer-token": BEARER, "/basic": encoded, "/header-key": KEY, "/query-key": KEY}[path]
    assert redact(f"sent {shown} here") == f"sent {MASK} here"  # registered: masked in any log line or error


def test_empty_or_misplaced_credentials_are_refused_up_front():
    with pytest.raises(ValueError, match="bearer token is empty"):
        BearerAuth("")
    with pytest.raises(ValueError, match="user name and a password"):
        BasicAuth("user", "")
    with pytest.raises(ValueError, match="location must be 'header' or 'query', got 'cookie'"):
        ApiKeyAuth("k-123456", location="cookie")  # type: ignore[arg-type]


# --- the redirect rule, for every scheme -------------------------------------------------------------

ALL_SCHEMES = {
    **SCHEMES,
    "/login-token": lambda: LoginTokenAuth(None, header="X-Token", token="tok-redirect-secret-1"),
}


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("scheme", list(ALL_SCHEMES))
def test_no_credentials_follow_a_redirect_to_another_host(scheme, status):
    with http_receiver(lambda e: answer(200, {})) as other:

        def respond(exchange: Exchange):
            return status, {"Location": f"{other.base_url}/stolen"}, b""

        with http_receiver(respond) as api, ApiClient(api.base_url, policy=POLICY, auth=ALL_SCHEMES[scheme]()) as c:
            with pytest.raises(RedirectRefused, match="credentials are never sent to another host"):
                c.request("POST", "/start", json={"a": 1})
            assert len(api.requests) == 1
        assert other.requests == []


def test_same_host_redirects_carry_the_credentials_on_every_hop():
    def respond(exchange: Exchange):
        url = urlsplit(exchange.path)
        if url.path == "/old":
            return 301, {"Location": "/new?page=2"}, b""
        return checking(Exchange(exchange.method, "/query-key?" + url.query, exchange.headers, exchange.body))

    with http_receiver(respond) as rx:
        with ApiClient(rx.base_url, policy=POLICY, auth=SCHEMES["/query-key"]()) as client:
            assert client.request("GET", "/old").ok
        _, moved = rx.requests
        assert parse_qs(urlsplit(moved.path).query) == {"page": ["2"], "api_key": [KEY]}


def test_a_url_of_another_origin_is_never_sent_to():
    with http_receiver(lambda e: answer(200, {})) as other, http_receiver(checking) as api:
        port = other.base_url.rsplit(":", 1)[1]
        with ApiClient(api.base_url, policy=POLICY, auth=BearerAuth(BEARER)) as client:
            for path in (f"{other.base_url}/x", f"http://localhost:{port}/x", f"@127.0.0.1:{port}/x"):
                with pytest.raises(CrossOriginRefused, match="credentials are never sent to another host"):
                    client.request("GET", path)
            assert client.request("GET", api.base_url + "/bearer-token").ok  # its own origin, absolute: fine
        assert other.requests == [] and len(api.requests) == 1
