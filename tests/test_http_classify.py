"""A connector's response classifier, against real loopback servers: Salesforce's spent request
limit (`403 [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]`) stops the run as a limit, not as a
permission error and without retries; a classifier can also ask for a retry or a fresh login."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import Exchange, http_receiver
from ziwo_reports.http import (
    ApiClient,
    AuthError,
    BearerAuth,
    HttpError,
    HttpPolicy,
    LimitExceeded,
    LoginTokenAuth,
    RetriesExhausted,
    Verdict,
    send,
)

POLICY = HttpPolicy(
    connect_timeout=2, read_timeout=5, attempts=4, backoff_base=0.001, backoff_max=0.01, retry_after_max=5, deadline=5
)
TOKEN = "sf-session-token-secret-31"
LIMIT_BODY = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def answer(status: int, body: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def salesforce_errors(response: requests.Response) -> Verdict | None:
    """What Salesforce's error list means, as a Salesforce connector would say it."""
    try:
        body = response.json()
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    code = first.get("errorCode")
    if code == "REQUEST_LIMIT_EXCEEDED":
        return Verdict.fail(
            LimitExceeded,
            f"Salesforce's API request limit is used up (REQUEST_LIMIT_EXCEEDED: {first.get('message')}); "
            "stopped, it resets within 24 hours",
        )
    if code == "INVALID_SESSION_ID":
        return Verdict.reauthenticate("INVALID_SESSION_ID")
    if code == "SERVER_UNAVAILABLE":
        return Verdict.retry("SERVER_UNAVAILABLE")
    return None


def test_a_spent_request_limit_stops_the_run_as_a_limit_not_retried_not_a_permission_error():
    def respond(exchange: Exchange):
        return answer(403, LIMIT_BODY)

    with http_receiver(respond) as rx:
        with ApiClient(rx.base_url, policy=POLICY, auth=BearerAuth(TOKEN), classify=salesforce_errors) as client:
            with pytest.raises(LimitExceeded) as caught:
                client.request("GET", "/services/data/v60.0/query", params={"q": "SELECT Id FROM Task"})
            assert (client.stats.requests, client.stats.retries, client.stats.reauths) == (1, 0, 0)
        assert len(rx.requests) == 1
        assert not isinstance(caught.value, AuthError)
        assert str(caught.value) == (
            f"GET {rx.base_url}/services/data/v60.0/query: Salesforce's API request limit is used up "
            "(REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); stopped, it resets within 24 hours"
        )
        assert caught.value.status == 403

        # The same answer without the connector's classifier is taken for a refused permission.
        with ApiClient(rx.base_url, policy=POLICY, auth=BearerAuth(TOKEN)) as client, pytest.raises(AuthError):
            client.request("GET", "/services/data/v60.0/query")

        # And `send` takes the hook directly.
        with pytest.raises(LimitExceeded, match="REQUEST_LIMIT_EXCEEDED"):
            send(requests.Session(), "GET", rx.base_url + "/x", policy=POLICY, classify=salesforce_errors)


def test_a_classifier_can_ask_for_a_retry_with_the_servers_delay():
    answers = iter(
        [
            answer(503, [{"errorCode": "SERVER_UNAVAILABLE"}], **{"Retry-After": "3"}),
            answer(200, [{"errorCode": "SERVER_UNAVAILABLE"}]),
            answer(200, {"records": []}),
        ]
    )
    sleeps: list[float] = []
    with http_receiver(lambda e: next(answers)) as rx:
        reply = send(
            requests.Session(),
            "GET",
            rx.base_url + "/q",
            policy=POLICY,
            classify=salesforce_errors,
            sleep=sleeps.append,
        )
    assert reply.response.json() == {"records": []} and len(rx.requests) == 3
    assert sleeps[0] == 3 and 0 <= sleeps[1] <= 0.002  # Retry-After honoured, then the policy's backoff

    with http_receiver(lambda e: answer(200, [{"errorCode": "SERVER_UNAVAILABLE"}])) as rx:
        with pytest.raises(RetriesExhausted, match=r"after 4 attempts; last error: SERVER_UNAVAILABLE$"):
            send(requests.Session(), "GET", rx.base_url + "/q", policy=POLICY, classify=salesforce_errors)
        assert len(rx.requests) == POLICY.attempts


def test_a_classifier_can_take_a_status_the_policy_would_retry():
    def maintenance(response: requests.Response) -> Verdict | None:
        return Verdict.ok() if response.headers.get("X-Maintenance") else None

    with http_receiver(lambda e: answer(503, {"down": True}, **{"X-Maintenance": "1"})) as rx:
        reply = send(requests.Session(), "GET", rx.base_url, policy=POLICY, classify=maintenance, sleep=lambda s: None)
        assert reply.status == 503 and len(rx.requests) == 1


def test_a_classifier_can_ask_for_a_fresh_login():
    logins: list[str] = []
    refuse = {"all": False}

    def respond(exchange: Exchange):
        if exchange.path == "/login":
            logins.append(f"sf-session-{len(logins) + 1}-secret")
            return answer(200, {"token": logins[-1]})
        token_ok = exchange.headers.get("Authorization") == f"Bearer {logins[-1]}" and len(logins) >= 2
        if refuse["all"] or not token_ok:
            return answer(400, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        return answer(200, {"done": True})

    with http_receiver(respond) as rx:
        client = ApiClient(rx.base_url, policy=POLICY, classify=salesforce_errors)
        client.auth = LoginTokenAuth(
            lambda: client.request("POST", "/login", authenticate=False).response.json()["token"],
            prefix="Bearer ",
            expired=(),  # only the classifier says when the session expired: its status is 400
        )
        assert client.request("GET", "/q").response.json() == {"done": True}
        assert [r.path for r in rx.requests] == ["/login", "/q", "/login", "/q"] and client.stats.reauths == 1

        refuse["all"] = True  # every session refused from now on: one more login, then an error
        with pytest.raises(AuthError, match=r"^GET /q refused: HTTP 400 Session expired or invalid \(a fresh login"):
            client.request("GET", "/q")
        assert len(logins) == 3 and client.stats.reauths == 2


def test_a_failure_verdict_needs_an_error_class_that_redacts():
    with pytest.raises(TypeError, match="HttpError subclass"):
        Verdict.fail(RuntimeError, "boom")  # type: ignore[arg-type]
    assert Verdict.fail(HttpError, "boom").error is HttpError
