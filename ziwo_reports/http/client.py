"""One API, one origin: the base URL, the policy, the credentials and the connector's classifier
together, so a connector says `client.request("GET", "/agents")` and the rest is done alike for all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests

from ziwo_reports.http.auth import Auth, no_credentials
from ziwo_reports.http.classify import Action, Classifier
from ziwo_reports.http.errors import AuthError, CrossOriginRefused
from ziwo_reports.http.policy import HttpPolicy, HttpStats, Reply, _origin, send

log = logging.getLogger(__name__)


def error_message(response: requests.Response) -> str:
    """What the server says went wrong, from the usual places in a JSON body, else the reason."""
    message: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict):  # [{"errorCode": ..., "message": ...}]
        body = body[0]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        message = message or body.get("message") or body.get("error_description")
        if not message and isinstance(error, str):
            message = error
    return str(message or response.reason or "no message")


class ApiClient:
    """Requests to one API under one policy. Paths are joined to `base_url`; an absolute URL must
    have its origin (a next-page link to another host is refused before it is sent, credentials
    and all). With `auth`, each request carries the credentials; when the server says they
    expired (the auth's statuses, or the classifier's REAUTHENTICATE), they are renewed once and
    the request is sent again; refused, it fails with AuthError:
    `GET /path refused: HTTP 403 <the server's message> (<the auth's hint>)`."""

    def __init__(
        self,
        base_url: str,
        *,
        policy: HttpPolicy,
        auth: Auth | None = None,
        classify: Classifier | None = None,
        parse: Callable[[requests.Response], Any] | None = None,
        describe: Callable[[requests.Response], str] = error_message,
        session: requests.Session | None = None,
        stats: HttpStats | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = _origin(self.base_url)
        self.policy = policy
        self.auth = auth
        self.classify = classify
        self.parse = parse
        self.describe = describe
        self.session = session or requests.Session()
        self.stats = stats if stats is not None else HttpStats()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        """`base_url` + `path`, or `path` itself when it is an absolute URL; either way of this API's origin."""
        url = path if path.lower().startswith(("http://", "https://")) else self.base_url + path
        try:
            origin = _origin(url)
        except ValueError:
            origin = "an unusable URL"
        if origin != self.origin:
            raise CrossOriginRefused(
                f"refused to send a request for {self.origin} to {origin}: credentials are never sent to another host",
                url=origin,
            )
        return url

    def request(self, method: str, path: str, *, authenticate: bool = True, **kwargs: Any) -> Reply:
        """Send under the policy, with the credentials unless `authenticate` is False (a login)."""
        url = self.url(path)
        auth = self.auth if authenticate else None
        if auth is None:
            return self._send(method, url, None, kwargs)
        renewed = False
        while True:
            auth.ensure(self)
            reply = self._send(method, url, auth, kwargs)
            reauth = reply.verdict is not None and reply.verdict.action is Action.REAUTHENTICATE
            if (reauth or auth.expired(reply.response)) and not renewed and auth.can_renew:
                why = reply.verdict.reason if reply.verdict is not None else f"HTTP {reply.status}"
                log.info("%s %s: credentials refused (%s); getting %s", method, path, why, auth.renewal)
                auth.renew(self)
                renewed = True
                self.stats.reauths += 1
                continue
            if reauth or auth.refused(reply.response):
                raise AuthError(
                    f"{method} {path} refused: HTTP {reply.status} {self.describe(reply.response)} "
                    f"({auth.hint(renewed)})",
                    status=reply.status,
                    url=url,
                )
            return reply

    def _send(self, method: str, url: str, auth: Auth | None, kwargs: dict[str, Any]) -> Reply:
        # `auth` goes to requests as its auth object, applied to each hop of the request.
        return send(
            self.session,
            method,
            url,
            policy=self.policy,
            stats=self.stats,
            parse=self.parse,
            classify=self.classify,
            auth=auth if auth is not None else no_credentials,
            **kwargs,
        )
