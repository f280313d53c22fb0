"""The one HTTP policy, against real HTTP receivers on loopback."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from tests.conftest import http_receiver
from ziwo_reports.http import HttpPolicy, HttpStats, RetriesExhausted, parse_retry_after, retry_delay, send

POLICY = HttpPolicy(
    connect_timeout=2, read_timeout=2, attempts=4, backoff_base=0.01, backoff_max=0.05, retry_after_max=5
)


def scripted(*answers):
    """A responder that plays `answers` in order, then repeats the last one."""
    queue = list(answers)

    def respond(_exchange):
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            return answer()
        return answer

    return respond


def ok(payload=None):
    return (200, {"Content-Type": "application/json"}, json.dumps(payload or {"result": True}).encode())


def test_full_jitter_stays_inside_a_growing_capped_window():
    rng = random.Random(1)
    policy = HttpPolicy(backoff_base=0.5, backoff_max=4)
    for retry, window in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [retry_delay(retry, policy, None, rng) for _ in range(200)]
        assert all(0 <= d <= window for d in delays)
        assert max(delays) > window * 0.8  # jitter spreads over the whole window


def test_retry_after_is_honoured_and_capped():
    policy = HttpPolicy(retry_after_max=30)
    assert retry_delay(1, policy, "7") == 7
    assert retry_delay(1, policy, "600") == 30
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 15 <= retry_delay(1, policy, later) <= 20
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retries_5xx_and_429_then_succeeds_with_the_servers_delay():
    sleeps: list[float] = []
    with http_receiver(scripted((503, {}, b"busy"), (429, {"Retry-After": "9"}, b""), ok())) as rx:
        stats = HttpStats()
        reply = send(requests.Session(), "GET", rx.base_url + "/x", policy=POLICY, stats=stats, sleep=sleeps.append)
    assert reply.status == 200
    assert (stats.requests, stats.retries) == (3, 2)
    assert 0 <= sleeps[0] <= 0.01  # backoff window of the first retry
    assert sleeps[1] == 5  # Retry-After 9, capped at retry_after_max


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_are_never_retried(status):
    with http_receiver(scripted((status, {}, b"no"))) as rx:
        stats = HttpStats()
        reply = send(requests.Session(), "GET", rx.base_url + "/x", policy=POLICY, stats=stats, sleep=lambda s: None)
        assert reply.status == status
        assert len(rx.requests) == 1 and stats.retries == 0


def test_dropped_connection_and_read_timeout_are_retried():
    def slow():
        time.sleep(0.6)
        return ok()

    policy = HttpPolicy(connect_timeout=1, read_timeout=0.3, attempts=4, backoff_base=0.001)
    with http_receiver(scripted(None, slow, ok({"result": True, "n": 3}))) as rx:
        stats = HttpStats()
        reply = send(
            requests.Session(),
            "GET",
            rx.base_url + "/x",
            policy=policy,
            stats=stats,
            parse=lambda r: r.json(),
        )
    assert reply.data == {"result": True, "n": 3}
    assert stats.retries == 2


def test_a_body_the_parser_rejects_is_retried():
    with http_receiver(scripted((200, {}, b'{"result": true, "cont'), ok())) as rx:
        stats = HttpStats()
        reply = send(
            requests.Session(),
            "GET",
            rx.base_url,
            policy=POLICY,
            stats=stats,
            parse=lambda r: json.loads(r.content),
        )
    assert reply.data == {"result": True} and stats.retries == 1


def test_exhausted_retries_name_the_request_and_hide_secrets():
    with http_receiver(scripted((502, {}, b""))) as rx:
        url = rx.base_url + "/callHistory/?access_token=tok-very-secret-123"
        with pytest.raises(RetriesExhausted) as caught:
            send(requests.Session(), "GET", url, policy=POLICY, sleep=lambda s: None)
        assert len(rx.requests) == POLICY.attempts
    message = str(caught.value)
    assert "after 4 attempts" in message and "HTTP 502" in message and "/callHistory/" in message
    assert "tok-very-secret-123" not in message


def test_policy_from_environment_names_a_bad_variable():
    env = {"ZIWO_REPORTS_HTTP_ATTEMPTS": "8", "ZIWO_REPORTS_HTTP_READ_TIMEOUT": "12.5"}
    policy = HttpPolicy.from_env(env)
    assert (policy.attempts, policy.read_timeout, policy.connect_timeout) == (8, 12.5, 5.0)
    with pytest.raises(ValueError, match=r"ZIWO_REPORTS_HTTP_ATTEMPTS must be a whole number, got 'many'"):
        HttpPolicy.from_env({"ZIWO_REPORTS_HTTP_ATTEMPTS": "many"})
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        HttpPolicy(attempts=0)
