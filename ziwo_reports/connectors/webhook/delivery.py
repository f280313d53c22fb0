"""Webhooks as a delivery (type `webhook`): the report's messages (envelope.py), each one request,
signed on every attempt (signing.py), sent in parallel under the one HTTP policy
(connectors/http_delivery.py).

A 2xx is sent (its ref the webhook-id); 429, 5xx and connection errors are retried by the policy
(Retry-After honoured); a redirect is not followed and fails; 410 Gone marks the target gone:
nothing more is sent to it (the ledger refuses later deliveries until a replay gets through);
any other status fails at once with the receiver's message. Unless `allow_private_urls`, every
connection goes to a public address that was checked (no SSRF, no DNS rebinding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator
from typing import ClassVar
from urllib.parse import urlencode, urlsplit

import orjson

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    register,
    validate_options,
)
from ziwo_reports.connectors.http_delivery import (
    SHOWN_REQUESTS,
    OutboundRequest,
    client_factory,
    delivery_policy,
    judge_status,
    mask_url,
    probe,
    send_requests,
    short_answer,
    shown_request,
)
from ziwo_reports.connectors.secrets import CredentialsError, load_credentials
from ziwo_reports.connectors.webhook.block import WebhookCredentials
from ziwo_reports.connectors.webhook.envelope import Message, messages
from ziwo_reports.connectors.webhook.options import WebhookTarget
from ziwo_reports.connectors.webhook.signing import ID_HEADER, WebhookAuth
from ziwo_reports.http import ApiClient, Reply
from ziwo_reports.report_model import Report

#: The longest URL a GET may have: what servers and proxies commonly take.
MAX_URL_BYTES = 8000
#: A receiver's answer is read for its status only: more than this is refused (the item fails).
MAX_ANSWER_BYTES = 1024 * 1024


def _query_url(url: str, envelope: dict) -> str:
    query = urlencode(
        [
            ("type", envelope["type"]),
            ("timestamp", envelope["timestamp"]),
            ("data", orjson.dumps(envelope["data"], default=str).decode()),
        ]
    )
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"


class WebhookDelivery:
    type: ClassVar[str] = "webhook"

    def __init__(self, options: WebhookTarget) -> None:
        self.options = options
        self._auth: WebhookAuth | None = None
        self._built: tuple[Report, list[OutboundRequest]] | None = None

    def validate(self) -> None:
        """The options as the model checks them (URL, headers, event type, bounds); no I/O."""
        validate_options(self.options)

    # --- parts ---------------------------------------------------------------------------------

    def auth(self) -> WebhookAuth | None:
        """The credentials the options name, loaded once (every secret registered for redaction)."""
        if self.options.credentials is None:
            return None
        if self._auth is None:
            try:
                block = load_credentials(WebhookCredentials, self.options.credentials)
            except CredentialsError as problem:
                raise DeliveryError(f"webhook delivery {self.options.target_name!r}: {problem}") from None
            self._auth = WebhookAuth(
                [secret.get_secret_value() for secret in block.signing_secrets],
                bearer_token=block.bearer_token.get_secret_value() if block.bearer_token else None,
                headers={name: value.get_secret_value() for name, value in block.headers.items()},
            )
        return self._auth

    def _client(self, url: str) -> Callable[[], ApiClient]:
        policy = delivery_policy(self.options.timeout_s, MAX_ANSWER_BYTES)
        return client_factory(url, policy, self.auth(), self.options.allow_private_urls)

    def _request(self, message: Message) -> OutboundRequest:
        options = self.options
        headers = {**options.headers, ID_HEADER: message.id, "Idempotency-Key": message.id}
        if options.method == "GET":
            url, body = _query_url(options.url, message.envelope), None
            if len(url.encode()) > MAX_URL_BYTES:
                raise DeliveryConfigError(
                    f"webhook delivery: method 'GET' with mode {options.mode!r}: message {message.key!r} makes a URL "
                    f"of {len(url.encode())} bytes, more than {MAX_URL_BYTES}; use method POST, or mode 'row' or "
                    "'chunks' with a smaller max_body_bytes"
                )
        else:
            url, body = options.url, message.body
            headers["Content-Type"] = "application/json"
        return OutboundRequest(
            key=message.key,
            method=options.method,
            url=url,
            headers=headers,
            body=body,
            rows=message.rows,
            row_keys=message.row_keys,
            sample=message.sample,
        )

    def requests(self, report: Report) -> list[OutboundRequest]:
        """Every request of the report, in order; DeliveryConfigError when one cannot be sent.
        Built once per report: plan() and deliver() of one delivery share them."""
        if self._built is None or self._built[0] is not report:
            self._built = (report, [self._request(message) for message in messages(report, self.options)])
        return self._built[1]

    def _judge(self, request: OutboundRequest, reply: Reply) -> ItemResult:
        judged = judge_status(request, reply, gone_on_410=True)
        if judged is not None:
            return judged
        info = {"status": reply.status, "answer": short_answer(reply)}
        return ItemResult(request.key, "sent", ref=request.headers[ID_HEADER], info=info)

    # --- the contract ----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """A harmless request (check_method to check_url or the URL): reachable, answering, not refusing."""
        url = self.options.check_url or self.options.url
        try:
            client = self._client(url)()
        except Exception as problem:  # credentials that cannot be had: the check's answer
            return CheckResult(False, str(problem))
        with client:
            return probe(client, self.options.check_method, url)

    def plan(self, report: Report) -> Plan:
        """Every message it would send (key, rows, hash of method, URL and body), and the first
        requests as they would go out, signed, secrets masked; nothing sent."""
        outbound = self.requests(report)
        target = mask_url(self.options.url)
        items = [dataclasses.replace(request.item(), target=target) for request in outbound]
        auth = self.auth()
        shown = [shown_request(request, auth) for request in outbound[:SHOWN_REQUESTS]]
        return Plan(self.type, self.options.target_name, items, requests=shown)

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        """Send the messages (only those of `keys`, when given), one ItemResult each as they complete."""
        outbound = [r for r in self.requests(report) if keys is None or r.key in keys]
        if not outbound:
            return
        yield from send_requests(
            outbound, client=self._client(self.options.url), judge=self._judge, concurrency=self.options.concurrency
        )


register(WebhookTarget, WebhookDelivery)
