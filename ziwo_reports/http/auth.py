"""How a connector proves who it is: one object per scheme, given to `ApiClient`.

Each is a requests auth object (`__call__` puts the credentials on a prepared request), so `send`
applies it to every hop of a request, and a hop is only ever to the origin asked (redirects to
another scheme, host or port are refused before they are sent). Each registers its secrets with
`ziwo_reports.redaction` when it gets them, so no log line or error shows them. Around that,
`ApiClient` asks it:

- `ensure(client)` before each request: get credentials when there are none, or renew them
  before they expire (a login, a token request; sent through `client`, under the same policy);
- `expired(response)`: the server says the credentials ran out; `renew(client)` then gets fresh
  ones, once per request (False when it cannot), and the request is sent again;
- `refused(response)`: the server refuses them; the request fails with `AuthError`, whose message
  ends with `hint(...)`, what the user can do.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Literal

import requests
from requests.auth import AuthBase

from ziwo_reports.redaction import register_secret

if TYPE_CHECKING:
    from ziwo_reports.http.client import ApiClient

REFUSED = frozenset({401, 403})


def no_credentials(r: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth object that adds nothing: given to requests so that neither `session.auth` nor
    ~/.netrc adds credentials that the caller did not choose."""
    return r


class Auth(AuthBase):
    """Credentials that cannot be renewed, refused with 401 or 403. Subclasses say where they go."""

    renewal = "new credentials"  # what `renew` gets, for the log: "a new token", "a fresh login"

    def __init__(self, *, refused: Collection[int] = REFUSED, expired: Collection[int] = ()) -> None:
        self.refused_statuses = frozenset(refused)
        self.expired_statuses = frozenset(expired)

    def ensure(self, client: ApiClient) -> None:
        """Get or renew credentials before a request, when needed."""

    def expired(self, response: requests.Response) -> bool:
        return response.status_code in self.expired_statuses

    def refused(self, response: requests.Response) -> bool:
        return response.status_code in self.refused_statuses or self.expired(response)

    @property
    def can_renew(self) -> bool:
        return False

    def renew(self, client: ApiClient) -> None:
        """Replace the credentials with fresh ones; called only when `can_renew`."""
        raise NotImplementedError

    def hint(self, renewed: bool) -> str:
        return "the credentials were refused"


class LoginTokenAuth(Auth):
    """A token from a login, sent in a header (Ziwo: `access_token`). When the server says it
    expired (Ziwo: HTTP 403), the client logs in once more and repeats the request; refused again,
    the request fails. `login` returns the token (and raises when the login fails); without it,
    a token given up front is used until refused. `secrets` are what the login sends (a password),
    masked like the token."""

    renewal = "a fresh login"

    def __init__(
        self,
        login: Callable[[], str] | None,
        *,
        header: str = "Authorization",
        prefix: str = "",
        token: str | None = None,
        secrets: Collection[str | None] = (),
        expired: Collection[int] = (401,),
        refused: Collection[int] = REFUSED,
        cannot_renew_hint: str = "no login to renew the token with",
    ) -> None:
        super().__init__(refused=refused, expired=expired)
        self._login = login
        self.header = header
        self.prefix = prefix  # "Bearer " for a bearer token from a login
        self.cannot_renew_hint = cannot_renew_hint
        for secret in (*secrets, token):
            register_secret(secret)
        self.token = token

    @property
    def can_renew(self) -> bool:
        return self._login is not None

    def log_in(self) -> None:
        """Log in now, replacing any token held."""
        if self._login is None:
            raise ValueError("this LoginTokenAuth has no login")
        self.token = None
        token = self._login()
        if not isinstance(token, str) or not token:
            raise ValueError(f"the login returned no token ({type(token).__name__})")
        register_secret(token)
        self.token = token

    def ensure(self, client: ApiClient) -> None:
        if self.token is None and self._login is not None:
            self.log_in()

    def renew(self, client: ApiClient) -> None:
        self.log_in()

    def hint(self, renewed: bool) -> str:
        return "a fresh login did not help" if self.can_renew else self.cannot_renew_hint

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            r.headers[self.header] = self.prefix + self.token
        return r


class BearerAuth(Auth):
    """A fixed token in `Authorization: Bearer <token>` (a personal access token, an API token)."""

    def __init__(self, token: str, *, refused: Collection[int] = REFUSED) -> None:
        super().__init__(refused=refused)
        if not token:
            raise ValueError("the bearer token is empty")
        register_secret(token)
        self.token = token

    def hint(self, renewed: bool) -> str:
        return "the token was refused: check that it is valid and allowed to do this"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class BasicAuth(Auth):
    """HTTP basic authentication: user name and password, in every request's header."""

    def __init__(self, username: str, password: str, *, refused: Collection[int] = REFUSED) -> None:
        super().__init__(refused=refused)
        if not username or not password:
            raise ValueError("basic authentication needs a user name and a password")
        self.username = username
        register_secret(password)
        self._header = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        register_secret(self._header.removeprefix("Basic "))  # the header carries the password, encoded

    def hint(self, renewed: bool) -> str:
        return f"user name {self.username!r} and its password were refused"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header
        return r


class ApiKeyAuth(Auth):
    """An API key in a header (`X-API-Key: <key>`) or a query parameter (`?api_key=<key>`)."""

    def __init__(
        self,
        key: str,
        *,
        name: str = "X-API-Key",
        location: Literal["header", "query"] = "header",
        refused: Collection[int] = REFUSED,
    ) -> None:
        super().__init__(refused=refused)
        if not key:
            raise ValueError("the API key is empty")
        if location not in ("header", "query"):
            raise ValueError(f"location must be 'header' or 'query', got {location!r}")
        if not name:
            raise ValueError("the API key needs the name of its header or query parameter")
        register_secret(key)
        self.key, self.name, self.location = key, name, location

    def hint(self, renewed: bool) -> str:
        return f"the API key in {self.location} {self.name!r} was refused"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.location == "header":
            r.headers[self.name] = self.key
        else:
            r.prepare_url(r.url, {self.name: self.key})
        return r
