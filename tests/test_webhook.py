"""The webhook delivery against real receivers on loopback (tests/receivers.py) that verify every
signature with the `standardwebhooks` library, and a real DuckDB ledger."""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import time

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from tests import golden
from ziwo_reports.connectors.delivery import DeliveryConfigError, DeliveryError, delivery_for
from ziwo_reports.connectors.webhook.block import WebhookCredentials
from ziwo_reports.connectors.webhook.envelope import message_id
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import report_key, row_keys
from ziwo_reports.warehouse import open_warehouse

OLD = "whsec_" + base64.b64encode(b"old-signing-key-of-32-bytes-long").decode()
NEW = "whsec_" + base64.b64encode(b"new-signing-key-of-32-bytes-long").decode()
TOKEN = "hook-bearer-token-9c2e71"
API_KEY = "x-api-key-value-44d0a2"
PATH = "/hooks/in"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


@pytest.fixture
def report(warehouse):
    return golden.report_of(warehouse)


@pytest.fixture
def signed(monkeypatch):
    """Credentials from the environment: both secrets (rotation), a token and a secret header."""
    monkeypatch.setenv("HOOK_SIGNING_SECRETS", f"{OLD} {NEW}")
    monkeypatch.setenv("HOOK_BEARER_TOKEN", TOKEN)
    monkeypatch.setenv("HOOK_HEADERS", f"X-Api-Key={API_KEY}")
    return "env:HOOK"


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def target(receiver, path=PATH, **options):
    return {"type": "webhook", "name": "hook", "url": receiver.url(path), "allow_private_urls": True, **options}


def deliver(report, options, warehouse, run_id="run-1"):
    return deliver_report(report, options, ledger(warehouse), run_id=run_id, source="test")


def statuses(warehouse, run_id=None):
    return sorted(row.status for row in list_deliveries(warehouse, run_id=run_id, limit=10_000))


# --- signatures, ids, reruns ---------------------------------------------------------------------


def test_every_message_verifies_and_a_rerun_sends_the_same_ids_and_adds_no_event(receiver, report, warehouse, signed):
    receiver.verify(PATH, [NEW])
    options = target(receiver, mode="row", credentials=signed)
    first = deliver(report, options, warehouse)
    assert not first.failed and len(first.results) == report.table.num_rows == 9
    requests = receiver.requests(PATH)
    assert len(requests) == 9 and all(r.verified and r.status == 200 for r in requests)
    ids = [r.headers["webhook-id"] for r in requests]
    assert len(set(ids)) == 9 and all(r.headers["idempotency-key"] == r.headers["webhook-id"] for r in requests)
    keys = [str(k) for k in row_keys(report).to_pylist()]
    assert set(ids) == {message_id("report.row", key) for key in keys}
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {TOKEN}"}
    assert {r.headers["x-api-key"] for r in requests} == {API_KEY}
    body = requests[0].json()
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "report.row"
    assert body["timestamp"] == "2026-11-12T12:00:00+00:00"
    assert body["data"]["row_key"] in keys and body["data"]["row"]["instance"] == golden.INSTANCE
    assert body["data"]["key"] == report_key(report) and body["data"]["row_count"] == 9
    events = receiver.events(PATH)

    second = deliver(report, options, warehouse, run_id="run-2")
    assert not second.failed
    assert sorted(r.headers["webhook-id"] for r in receiver.requests(PATH)[9:]) == sorted(ids)
    assert receiver.events(PATH) == events, "a rerun of the same period is no new event"
    rows = list_deliveries(warehouse, limit=100)
    assert statuses(warehouse) == ["sent"] * 18
    assert {row.target_ref for row in rows} == set(ids) and {row.target for row in rows} == {receiver.url(PATH)}


def test_signed_with_every_secret_so_a_receiver_that_knows_only_one_verifies(receiver, report, warehouse, signed):
    receiver.verify("/old", [OLD])
    receiver.verify("/new", [NEW])
    deliver(report, target(receiver, "/old", credentials=signed, name="old"), warehouse)
    deliver(report, target(receiver, "/new", credentials=signed, name="new"), warehouse)
    for path in ("/old", "/new"):
        (request,) = receiver.requests(path)
        assert request.verified and len(request.headers["webhook-signature"].split(" ")) == 2
        Webhook(OLD if path == "/old" else NEW).verify(request.body, request.headers)
    wrong = "whsec_" + base64.b64encode(b"a-third-key-nobody-signs-with-32").decode()
    receiver.verify("/other", [wrong])
    refused = deliver(report, target(receiver, "/other", credentials=signed, name="other"), warehouse)
    (result,) = refused.failed
    assert "HTTP 401" in result.error and "signing secrets" in result.error
    assert len(receiver.requests("/other")) == 1, "a refused signature is not retried"


def test_a_retry_after_a_long_wait_is_signed_again(receiver, report, warehouse, signed):
    receiver.verify(PATH, [OLD])
    receiver.script(PATH, [503], retry_after="2")
    delivered = deliver(report, target(receiver, credentials=signed), warehouse)
    assert not delivered.failed
    first, second = receiver.requests(PATH)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) >= int(first.headers["webhook-timestamp"]) + 1
    assert second.headers["webhook-signature"] != first.headers["webhook-signature"] and second.verified


# --- a hostile receiver --------------------------------------------------------------------------


def test_a_flaky_receiver_gets_everything_once_and_the_ledger_is_exact(receiver, report, warehouse, signed):
    receiver.verify(PATH, [OLD])
    receiver.script(PATH, [429, 503, 503], retry_after="1")
    receiver.drop(PATH, 1)
    receiver.slow(PATH, 0.1)
    started = time.monotonic()
    delivered = deliver(report, target(receiver, mode="row", credentials=signed, concurrency=4), warehouse)
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"
    assert not delivered.failed
    assert statuses(warehouse) == ["sent"] * 9
    answered = [r.status for r in receiver.requests(PATH)]
    assert sorted(answered) == [200] * 9 + [429, 503, 503], "the dropped connection left no answer"
    assert len(receiver.events(PATH)) == 9


def test_410_marks_the_target_gone_until_a_replay_of_that_item_gets_through(receiver, report, warehouse, signed):
    receiver.script(PATH, [200, 200, 410])
    options = target(receiver, mode="row", credentials=signed, concurrency=1)
    first = deliver(report, options, warehouse)
    assert sorted(r.status for r in first.results) == ["failed"] * 6 + ["gone"] + ["sent"] * 2
    assert len(receiver.requests(PATH)) == 3, "nothing sent after the 410"
    assert all("not sent: the target is gone" in r.error for r in first.results if r.status == "failed")
    (gone_key,) = [r.key for r in first.results if r.status == "gone"]

    again = deliver(report, options, warehouse, run_id="run-2")
    assert len(receiver.requests(PATH)) == 3, "a gone target gets nothing"
    assert {r.status for r in again.results} == {"failed"} and "410 Gone" in again.results[0].error
    with pytest.raises(DeliveryError, match="replay"):
        again.raise_for_failures()

    # the receiver is back: a replay of the gone item reopens the target
    gone = [row for row in list_deliveries(warehouse, status="gone")]
    assert [row.chunk_key for row in gone] == [gone_key]
    replayed = replay(gone, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and receiver.requests(PATH)[-1].status == 200
    third = deliver(report, options, warehouse, run_id="run-3")
    assert not third.failed and len(receiver.events(PATH)) == 9


def test_a_redirect_is_not_followed(receiver, report, warehouse, signed):
    receiver.fail(PATH, 302, location=receiver.url("/elsewhere"))
    delivered = deliver(report, target(receiver, credentials=signed), warehouse)
    (result,) = delivered.failed
    assert "HTTP 302 redirect" in result.error and "not followed" in result.error
    assert receiver.requests("/elsewhere") == [] and len(receiver.requests(PATH)) == 1


def test_a_4xx_fails_at_once_with_the_receivers_message(receiver, report, warehouse):
    receiver.fail(PATH, 422)
    delivered = deliver(report, target(receiver), warehouse)
    (result,) = delivered.failed
    assert result.status == "failed" and result.error == "HTTP 422 receiver says 422"
    assert len(receiver.requests(PATH)) == 1, "a 422 is not retried"


def test_a_replay_after_an_outage_sends_exactly_what_failed(receiver, report, warehouse, signed, monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_ATTEMPTS", "2")
    receiver.verify(PATH, [NEW])
    receiver.script(PATH, [200, 200, 200, 200], retry_after="0")
    receiver.fail(PATH, 503)  # after four answers, down
    first = deliver(report, target(receiver, mode="row", credentials=signed, concurrency=1), warehouse)
    assert sorted(r.status for r in first.results) == ["failed"] * 5 + ["sent"] * 4
    failed_ids = {message_id("report.row", r.key) for r in first.failed}
    seen = len(receiver.requests(PATH))
    receiver.fail(PATH, None)

    unsent = list_deliveries(warehouse, unsent=True)
    assert len(unsent) == 5
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed
    again = receiver.requests(PATH)[seen:]
    assert sorted(r.headers["webhook-id"] for r in again) == sorted(failed_ids), "exactly what failed, once each"
    assert len(receiver.events(PATH)) == 9 and list_deliveries(warehouse, unsent=True) == []


# --- shapes: chunks, GET, test sends -------------------------------------------------------------


def test_chunks_keep_every_body_under_the_limit_and_reassemble_to_the_report(receiver, report, warehouse, signed):
    receiver.verify(PATH, [OLD])
    limit = 2048
    options = target(receiver, mode="chunks", max_body_bytes=limit, credentials=signed)
    delivered = deliver(report, options, warehouse)
    assert not delivered.failed
    bodies = [r.body for r in receiver.requests(PATH)]
    assert len(bodies) > 1 and all(len(body) <= limit for body in bodies)
    chunks = sorted((orjson.loads(body)["data"] for body in bodies), key=lambda data: data["chunk"]["sequence"])
    assert [c["chunk"]["sequence"] for c in chunks] == list(range(1, len(chunks) + 1))
    assert {c["chunk"]["count"] for c in chunks} == {len(chunks)}
    starts = [sum(len(p["rows"]) for p in chunks[:i]) for i in range(len(chunks))]
    assert [c["chunk"]["first_row"] for c in chunks] == starts
    rows = [row for c in chunks for row in c["rows"]]
    assert rows == orjson.loads(orjson.dumps(report.table.to_pylist())), "all rows, in order"
    keys = [k for item in delivered.plan.items for k in item.row_keys]
    assert keys == [str(k) for k in row_keys(report).to_pylist()] and len(set(keys)) == len(keys)
    assert [item.key for item in delivered.plan.items] == [
        f"{report_key(report)}:chunk:{i}/{len(chunks)}" for i in range(1, len(chunks) + 1)
    ]


@pytest.mark.parametrize("mode", ["report", "row", "chunks"])
def test_a_message_that_cannot_fit_is_refused_before_anything_is_sent(receiver, report, warehouse, mode):
    options = target(receiver, mode=mode, max_body_bytes=1024)
    with pytest.raises(DeliveryConfigError) as refused:
        deliver(report, options, warehouse)
    message = str(refused.value)
    assert "max_body_bytes 1024" in message and f"mode {mode!r}" in message and "\n" not in message
    assert receiver.requests(PATH) == [] and list_deliveries(warehouse) == []


def test_get_sends_the_envelope_as_query_parameters_signed_over_the_query_string(receiver, report, warehouse, signed):
    receiver.verify(PATH, [NEW])
    url = receiver.url(PATH) + "?source=ziwo"
    options = {**target(receiver, credentials=signed, mode="row", method="GET"), "url": url}
    delivered = deliver(report, options, warehouse)
    assert not delivered.failed
    requests = receiver.requests(PATH)
    assert len(requests) == 9 and all(r.method == "GET" and r.body == b"" and r.verified for r in requests)
    query = requests[0].query
    assert query["source"] == "ziwo" and query["type"] == "report.row"
    assert query["timestamp"] == "2026-11-12T12:00:00+00:00"
    assert orjson.loads(query["data"])["row"]["instance"] == golden.INSTANCE
    assert len(receiver.events(PATH)) == 9

    with pytest.raises(DeliveryConfigError, match=r"method 'GET' .*more than 8000"):
        deliver(report, target(receiver, "/big", method="GET"), warehouse)
    assert receiver.requests("/big") == []


def test_a_test_send_is_marked_and_carries_other_ids(receiver, report, warehouse, signed):
    receiver.verify(PATH, [OLD])
    real = deliver(report, target(receiver, credentials=signed), warehouse)
    test = deliver(report, target(receiver, credentials=signed, test=True), warehouse, run_id="run-2")
    first, second = receiver.requests(PATH)
    assert first.json()["type"] == "report.ready" and second.json()["type"] == "report.ready.test"
    assert first.headers["webhook-id"] != second.headers["webhook-id"] and second.verified
    assert real.results[0].key == report_key(report) and test.results[0].key == "test:" + report_key(report)
    assert len(receiver.events(PATH)) == 2


def test_plan_shows_the_first_requests_signed_with_secrets_masked_and_check_probes(receiver, report, signed):
    delivery = delivery_for(target(receiver, mode="row", credentials=signed, headers={"X-Source": "ziwo"}))
    plan = delivery.plan(report)
    assert len(plan.items) == 9 and len(plan.requests) == 3 and receiver.requests(PATH) == []
    shown = plan.requests[0]
    assert shown["method"] == "POST" and shown["url"] == receiver.url(PATH)
    headers = {k.lower(): v for k, v in shown["headers"].items()}
    assert headers["authorization"] == "Bearer ***" and headers["x-api-key"] == "***"
    assert headers["x-source"] == "ziwo" and headers["webhook-id"] == headers["idempotency-key"]
    assert len(headers["webhook-signature"].split(" ")) == 2 and orjson.loads(shown["body"])["type"] == "report.row"
    assert TOKEN not in str(plan.requests) and API_KEY not in str(plan.requests)

    result = delivery.check()
    assert result.ok and "HTTP 200" in result.detail
    (probe,) = receiver.requests(PATH)
    assert probe.method == "HEAD" and receiver.events(PATH) == {}
    receiver.fail(PATH, 404)
    assert not delivery.check().ok


# --- SSRF ----------------------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("host", "shown"),
    [("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("169.254.169.254", "169.254.169.254"), ("localhost", "localhost")],
)
def test_private_addresses_are_refused_unless_allowed(receiver, report, warehouse, host, shown):
    if host == "[::1]" and not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    url = receiver.url(PATH, host=host)
    delivered = deliver(report, {"type": "webhook", "url": url}, warehouse)
    (result,) = delivered.failed
    assert shown in result.error and "allow_private_urls" in result.error
    assert receiver.requests(PATH) == []
    check = delivery_for({"type": "webhook", "url": url}).check()
    assert not check.ok and shown in check.detail and "allow_private_urls" in check.detail
    if host in ("127.0.0.1", "localhost"):
        allowed = deliver(report, {"type": "webhook", "url": url, "allow_private_urls": True}, warehouse, "run-2")
        assert not allowed.failed and len(receiver.requests(PATH)) == 1


# --- secrets and bad options ---------------------------------------------------------------------


def test_no_secret_in_logs_ledger_rows_or_errors(receiver, report, warehouse, signed, caplog):
    receiver.verify("/wrong", ["whsec_" + base64.b64encode(b"x" * 32).decode()])
    errors = []
    with caplog.at_level(logging.DEBUG):
        receiver.script(PATH, [503, 503], retry_after="0")
        deliver(report, target(receiver, credentials=signed), warehouse)
        for path in ("/wrong", "/gone"):
            receiver.fail("/gone", 410)
            failed = deliver(report, target(receiver, path, credentials=signed, name=path.strip("/")), warehouse)
            with pytest.raises(DeliveryError) as raised:
                failed.raise_for_failures()
            errors.append(str(raised.value))
        errors.append(delivery_for(target(receiver, "/wrong", credentials=signed)).check().detail)
    shown = [caplog.text, *errors]
    for row in list_deliveries(warehouse):
        shown += [str(value) for value in row.__dict__.values()]
    for secret in (OLD, NEW, OLD.removeprefix("whsec_"), NEW.removeprefix("whsec_"), TOKEN, API_KEY):
        assert not any(secret in text for text in shown), "a secret showed"
    assert "HTTP 401" in errors[0] and "410" in errors[1]


def test_credentials_that_cannot_be_had_say_so_without_the_value(receiver, report, warehouse, monkeypatch):
    monkeypatch.setenv("BAD_SIGNING_SECRETS", f"{OLD} whsec_dG9vLXNob3J0")
    with pytest.raises(DeliveryError) as refused:
        deliver(report, target(receiver, credentials="env:BAD"), warehouse)
    message = str(refused.value)
    assert "BAD_SIGNING_SECRETS" in message and "signing_secrets[1]" in message and "9 bytes" in message
    assert OLD not in message and "dG9vLXNob3J0" not in message and "\n" not in message
    with pytest.raises(ValueError, match=r"signing_secrets\[0\] does not start with whsec_") as direct:
        WebhookCredentials(signing_secrets=["plain-secret-value"])
    assert "plain-secret-value" not in str(direct.value)
    assert receiver.requests(PATH) == []


@pytest.mark.parametrize(
    ("options", "field", "value"),
    [
        ({"url": "ftp://hooks.example.com/in"}, "url", "'ftp://hooks.example.com/in'"),
        ({"url": "https://hooks.example.com"}, "url", None),  # fine: the rest are wrong
        ({"url": "https://bob:hunter22@hooks.example.com/in"}, "url", "'https://bob:***@hooks.example.com/in'"),
        ({"method": "PUT"}, "method", "'PUT'"),
        ({"mode": "batch"}, "mode", "'batch'"),
        ({"event_type": "Report Ready"}, "event_type", "'Report Ready'"),
        ({"event_type": "report.ready.test"}, "event_type", "'report.ready.test'"),
        ({"max_body_bytes": 10}, "max_body_bytes", "10"),
        ({"credentials": "My Secrets"}, "credentials", "'My Secrets'"),
        ({"headers": {"Authorization": "Bearer x"}}, "headers", "Authorization"),
        ({"headers": {"webhook-id": "x"}}, "headers", "webhook-id"),
        ({"headers": {"X-Bad": "a\r\nb"}}, "headers", "X-Bad"),
        ({"concurrency": 65}, "concurrency", "65"),
        ({"timeout_s": 0}, "timeout_s", "0"),
        ({"check_method": "DELETE"}, "check_method", "'DELETE'"),
        ({"check_url": "file:///etc/passwd"}, "check_url", "'file:///etc/passwd'"),
        ({"retries": 3}, "retries", "3"),
    ],
)
def test_bad_options_are_one_line_naming_field_and_value(options, field, value):
    given = {"type": "webhook", "url": "https://hooks.example.com/in", **options}
    if value is None:
        delivery_for(given)
        return
    with pytest.raises(DeliveryConfigError) as refused:
        delivery_for(given)
    message = str(refused.value)
    assert message.startswith(f"webhook delivery: {field}") and value in message and "\n" not in message
    assert "hunter22" not in message
    if field == "headers" and "Authorization" in message:
        assert "credentials block" in message


def test_the_ledger_is_written_in_batches_and_a_crash_leaves_planned_items_that_replay_sends(
    receiver, report, warehouse, signed
):
    """Results reach the ledger in batches (one warehouse opening per batch, not per item); a
    process that dies between a send and its record leaves the item `planned`, and a replay sends
    it under the same webhook-id: the receiver holds each message once."""
    opened = []

    def counting():
        opened.append(1)
        return contextlib.nullcontext(warehouse)

    options = target(receiver, mode="row", credentials=signed)
    done = deliver_report(report, options, counting, run_id="run-1", source="test", record_every=4, record_seconds=60)
    assert len(done.results) == 9 and not done.failed
    assert len(opened) == 1 + 3, "the plan, then 4 + 4 + 1 results"

    def dies_on_the_second_batch():
        opened.append(1)
        if len(opened) > 2:
            raise KeyboardInterrupt("the process is stopped")
        return contextlib.nullcontext(warehouse)

    opened.clear()
    with pytest.raises(KeyboardInterrupt):
        deliver_report(
            report, options, dies_on_the_second_batch, run_id="run-2", source="test", record_every=4, record_seconds=60
        )
    assert statuses(warehouse, "run-2") == ["planned"] * 5 + ["sent"] * 4, "the first batch, and no more, recorded"
    sent_before = len(receiver.requests(PATH))
    replayed = replay(
        list_deliveries(warehouse, run_id="run-2", unsent=True),
        lambda s: compute_report(warehouse, s),
        ledger(warehouse),
    )
    assert not replayed.failed and statuses(warehouse, "run-2") == ["sent"] * 9
    assert len(receiver.requests(PATH)) == sent_before + 5
    assert len(receiver.events(PATH)) == 9, "the same ids: the receiver holds each message once"


def test_a_receiver_that_answers_too_much_or_too_slowly_holds_no_worker(receiver, report, warehouse, signed):
    """Hostile receivers: an answer larger than a webhook needs (its status) is refused after 1 MiB,
    and an attempt is bounded by timeout_s plus the connect timeout, however the bytes trickle."""
    receiver.reply(PATH, {"pad": "x" * 3_000_000})
    done = deliver(report, target(receiver, mode="report", credentials=signed), warehouse)
    (result,) = done.results
    assert result.status == "failed" and "larger than max_response_bytes=1048576" in result.error
    assert len(receiver.requests(PATH)) == 1, "a body too large is not retried"

    receiver.reply(PATH, {"ok": True})
    receiver.slow(PATH, 3)
    started = time.monotonic()
    slow = deliver(report, target(receiver, mode="report", credentials=signed, timeout_s=0.5), warehouse, "run-2")
    assert slow.failed and time.monotonic() - started < 10
