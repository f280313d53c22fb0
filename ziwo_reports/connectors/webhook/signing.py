"""Standard Webhooks signatures and the webhook's other credentials, put on each request by
requests itself (an Auth of the HTTP toolkit), so every attempt is signed afresh: a retry after a
long Retry-After carries a `webhook-timestamp` of its own and still verifies within the receiver's
tolerance (five minutes).

What is signed is `<webhook-id>.<webhook-timestamp>.<payload>`, the payload being the body as
sent, or for a GET (no body) the exact query string of the request as sent. The signature is the
`standardwebhooks` library's, one `v1,<base64>` per secret, space-separated: a receiver that
knows any one of the secrets verifies it (key rotation).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from standardwebhooks.webhooks import Webhook

from ziwo_reports.http import Auth
from ziwo_reports.redaction import register_secret

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def signed_payload(request: requests.PreparedRequest) -> str:
    """What the signature covers: the body, or for a request without one its query string."""
    body = request.body
    if body:
        return body.decode("utf-8") if isinstance(body, bytes) else str(body)
    return urlsplit(request.url or "").query


class WebhookAuth(Auth):
    """Signs each request that carries a webhook-id with every secret, and adds the bearer token
    and the secret headers. 401 and 403 are the receiver refusing them."""

    def __init__(
        self,
        signing_secrets: Collection[str] = (),
        *,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        for secret in (*signing_secrets, bearer_token, *(headers or {}).values()):
            register_secret(secret)
        self._signers = [Webhook(secret) for secret in signing_secrets]
        self._bearer = bearer_token
        self._headers = dict(headers or {})

    @property
    def signs(self) -> bool:
        return bool(self._signers)

    def hint(self, renewed: bool) -> str:
        return "the receiver refused the signature or the credentials: check the signing secrets, token and headers"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self._headers)
        if self._bearer:
            r.headers["Authorization"] = f"Bearer {self._bearer}"
        message_id = r.headers.get(ID_HEADER)
        if message_id:
            now = datetime.now(UTC)
            r.headers[TIMESTAMP_HEADER] = str(int(now.timestamp()))
            if self._signers:
                payload = signed_payload(r)
                signatures = (signer.sign(message_id, now, payload) for signer in self._signers)
                r.headers[SIGNATURE_HEADER] = " ".join(signatures)
        return r
