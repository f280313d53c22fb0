"""OAuth 2.0 client credentials (RFC 6749 section 4.4): machine-to-machine access to an API.

The protocol is oauthlib's: it writes the token request and reads the answer (the error codes of
section 5.2, `expires_in`, a changed scope). The token request itself goes through `send`, under
the same policy as every other request: retries, deadline, size cap, and no redirect to another
host, so the client secret stays where it was meant to go (requests-oauthlib's session, which
sends it with requests' own redirect handling and without those guards, is not used).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error

from ziwo_reports.http.auth import REFUSED, Auth, BasicAuth, no_credentials
from ziwo_reports.http.errors import AuthError
from ziwo_reports.http.policy import send
from ziwo_reports.redaction import register_secret

if TYPE_CHECKING:
    from ziwo_reports.http.client import ApiClient

log = logging.getLogger(__name__)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OAuth2ClientCredentials(Auth):
    """An access token from `token_url` for `client_id` and `client_secret`, sent as
    `Authorization: Bearer <token>`. It is fetched before the first request and again before it
    expires (`refresh_margin` seconds before `expires_in` runs out, at most half its lifetime), and
    once when the API answers 401 with it; refused after that, the request fails.

    The client authenticates to the token endpoint with HTTP basic (`client_auth="basic"`, what
    RFC 6749 asks every server to support) or with `client_id` and `client_secret` in the form
    (`"body"`). `token_url` must be https; plain http only to a loopback address."""

    renewal = "a new access token"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | list[str] | None = None,
        client_auth: Literal["basic", "body"] = "basic",
        extra: Mapping[str, str] | None = None,
        refresh_margin: float = 60.0,
        expired: Collection[int] = (401,),
        refused: Collection[int] = REFUSED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(refused=refused, expired=expired)
        parts = urlsplit(token_url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))):
            raise ValueError(f"token_url {token_url!r} must be an https URL (plain http only to a loopback address)")
        if not client_id or not client_secret:
            raise ValueError("OAuth2 client credentials need a client_id and a client_secret")
        if client_auth not in ("basic", "body"):
            raise ValueError(f"client_auth must be 'basic' or 'body', got {client_auth!r}")
        register_secret(client_secret)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.client_auth = client_auth
        self.scope = scope
        self.extra = dict(extra or {})
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._oauth = BackendApplicationClient(client_id, scope=scope)
        self._basic = BasicAuth(client_id, client_secret) if client_auth == "basic" else None
        self.token: str | None = None
        self._renew_at: float | None = None  # on `clock`; None: no expiry given, renewed only when refused
        self.fetched = 0  # tokens fetched, for the curious and for tests
        # Clients of several threads share one token (a delivery's workers): one fetch at a time.
        self._lock = threading.Lock()

    @property
    def can_renew(self) -> bool:
        return True

    def _due(self) -> bool:
        return self.token is None or (self._renew_at is not None and self._clock() >= self._renew_at)

    def ensure(self, client: ApiClient) -> None:
        if self._due():
            with self._lock:
                if self._due():  # another thread may have fetched it meanwhile
                    self.fetch(client)

    def renew(self, client: ApiClient) -> None:
        refused = self.token
        with self._lock:
            if self.token == refused:  # not renewed by another thread meanwhile
                self.fetch(client)

    def hint(self, renewed: bool) -> str:
        return "a new access token did not help" if renewed else "the access token was refused"

    def fetch(self, client: ApiClient) -> None:
        """Get a new access token from the token endpoint, under the client's policy."""
        started = self._clock()
        in_body = self.client_auth == "body"
        body = self._oauth.prepare_request_body(
            include_client_id=in_body, client_secret=self._client_secret if in_body else None, **self.extra
        )
        reply = send(
            client.session,
            "POST",
            self.token_url,
            policy=client.policy,
            stats=client.stats,
            data=body,
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            auth=self._basic or no_credentials,
        )
        status, text = reply.status, reply.response.text
        what = f"token request to {self.token_url} for client {self.client_id!r}"
        try:
            token: Mapping[str, Any] = self._oauth.parse_request_body_response(text, scope=self.scope)
        except OAuth2Error as error:
            # "code (description)": "code: description" would look like a secret to the redaction (`token: x`)
            detail = error.error + (f" ({error.description})" if error.description else "")
            raise AuthError(f"{what} failed: HTTP {status} {detail}", status=status, url=self.token_url) from None
        except ValueError as error:  # an expires_in that is not a number
            raise AuthError(f"{what}: unreadable answer ({error})", status=status, url=self.token_url) from None
        except Warning as changed:  # oauthlib's way to say the server granted another scope than asked
            token = changed.token  # type: ignore[attr-defined]
            log.info("%s: %s", what, changed)
        if not reply.ok:
            raise AuthError(f"{what} failed: HTTP {status} {reply.response.reason}", status=status, url=self.token_url)
        access_token = token.get("access_token")
        register_secret(access_token)
        register_secret(token.get("refresh_token"))
        kind = str(token.get("token_type") or "Bearer")
        if not isinstance(access_token, str) or not access_token:
            raise AuthError(f"{what}: the answer holds no access token", status=status, url=self.token_url)
        if kind.lower() != "bearer":
            raise AuthError(f"{what}: token type {kind!r} is not supported (only 'Bearer' is)", status=status)
        expires_in = token.get("expires_in")
        if isinstance(expires_in, int | float) and expires_in > 0:
            self._renew_at = started + expires_in - min(self.refresh_margin, expires_in / 2)
        else:
            self._renew_at = None
        self.token = access_token
        self.fetched += 1
        log.info("%s: new access token%s", what, f", valid {expires_in} s" if self._renew_at is not None else "")

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            r.headers["Authorization"] = f"Bearer {self.token}"
        return r
