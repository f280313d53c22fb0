"""The e-mail delivery against a real SMTP server in the test process (aiosmtpd, tests/smtp_server.py):
the message parsed back with the e-mail package (headers, text and HTML parts, attachments opened
with openpyxl), STARTTLS, implicit TLS and a login, servers that refuse or drop the connection
(ledger and replay), bad options, reruns with and without --force, alerts and digests."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import openpyxl
import pyarrow as pa
import pytest

from tests import golden
from tests.smtp_server import SmtpServer
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.redaction import redact
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec, report_key
from ziwo_reports.warehouse import open_warehouse

PASSWORD = "smtp-pass-31d9-never-shown"
SENDER = "Ziwo reports <reports@acme.example>"


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ledger.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


@pytest.fixture
def server(tmp_path, monkeypatch):
    with SmtpServer(tmp_path, mode="starttls", users={"reports-bot": PASSWORD}) as smtp:
        for name, value in smtp.environment("MAIL", username="reports-bot", password=PASSWORD).items():
            monkeypatch.setenv(name, value)
        yield smtp


def target(server, **options):
    return {
        "type": "email",
        "name": "morning",
        "credentials": "env:MAIL",
        "sender": SENDER,
        "to": ["Ops Team <ops@acme.example>"],
        "cc": ["lead@acme.example"],
        "bcc": ["audit@acme.example"],
        "tls_ca_file": str(server.cert),
        "attempts": 1,
        **options,
    }


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def deliver(warehouse, report, options, run_id="run-1", **more):
    return deliver_report(report, options, ledger(warehouse), run_id=run_id, source="test", **more)


def day_report(warehouse, **spec):
    return golden.report_of(warehouse, interval="none", **spec)


# --- the message ----------------------------------------------------------------------------------


def test_the_message_parses_back_with_headers_parts_and_attachments(warehouse, server):
    report = day_report(warehouse)
    options = target(
        server,
        subject="{report} {period_start:%d %b} {timezone}",
        attach=["xlsx", "csv"],
        file_template="Agents_été_{period}.{ext}",
        reply_to="desk@acme.example",
    )
    delivered = deliver(warehouse, report, options)
    assert not delivered.failed
    [received] = server.received
    assert received.sender == "reports@acme.example"
    assert sorted(received.recipients) == ["audit@acme.example", "lead@acme.example", "ops@acme.example"]
    message = received.message
    assert message["Subject"] == "agent-performance 10 Nov Asia/Dubai"
    assert message["From"] == SENDER and message["To"] == "Ops Team <ops@acme.example>"
    assert message["Cc"] == "lead@acme.example" and message["Reply-To"] == "desk@acme.example"
    assert "Bcc" not in message and b"audit@acme.example" not in received.data, "bcc is never in the message"
    assert message["Auto-Submitted"] == "auto-generated"
    [row] = list_deliveries(warehouse)
    assert row.status == "sent" and row.target_ref == message["Message-ID"], "the ledger keeps the Message-ID"
    assert message["Message-ID"].endswith("@acme.example>")

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # The golden day: 8 legs handled (Amal 3, Badr 3, Celia 2) for 590 + 340 + 440 = 1,370 s, 171 s each
    # (2:51); 2 of the 8 transferred out (25.0%).
    assert "Average handle time (AHT)  2:51" in text and "Transfer rate              25.0%" in text
    assert "Flagged: 2 of 3 rows beyond the thresholds" in text and "CSAT 2.00 (below 4)" in text
    assert "2:51" in html and "25.0%" in html and "Celia C" in html
    # built for mail clients: inline styles, tables, nothing a client strips or fetches
    for forbidden in ("class=", "<style", "display:flex", "display: flex", "<img", "<script", "http://", "https://"):
        assert forbidden not in html

    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert sorted(attachments) == ["Agents_été_2026-11-10.csv", "Agents_été_2026-11-10.xlsx"]
    raw = received.data.decode("ascii")  # the wire is ASCII: names in RFC 2231 form
    assert "filename*=utf-8''Agents_%C3%A9t%C3%A9_2026-11-10.xlsx" in raw.replace("\r\n ", "")
    workbook = openpyxl.load_workbook(io.BytesIO(attachments["Agents_été_2026-11-10.xlsx"].get_content()))
    assert "Summary" in workbook.sheetnames and "Agents" in workbook.sheetnames
    header, *rows_ = list(workbook["Agents"].iter_rows(values_only=True))
    column = next(i for i, h in enumerate(header) if h and str(h).startswith("group_name"))
    assert sorted(r[column] for r in rows_) == ["Amal A", "Badr B", "Celia C"]
    rows = list(csv.DictReader(io.StringIO(attachments["Agents_été_2026-11-10.csv"].get_content().lstrip("\ufeff"))))
    assert sorted(r["group_name"] for r in rows) == ["Amal A", "Badr B", "Celia C"]


def test_values_from_the_data_are_escaped_in_the_html(warehouse, server):
    report = day_report(warehouse)
    names = report.table["group_name"].to_pylist()
    hostile = ['<script>alert("x")</script>', "Zoë <b>bold</b> & co", names[2]]
    report = replace(report, table=report.table.set_column(2, "group_name", pa.array(hostile)))
    assert report.table.column_names[2] == "group_name"
    deliver(warehouse, report, target(server, attach=[]))
    html = server.received[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "Zoë &lt;b&gt;bold&lt;/b&gt; &amp; co" in html


def test_a_test_send_goes_to_the_test_recipients_only_and_says_so(warehouse, server):
    report = day_report(warehouse)
    real = target(server, test_to=["qa@acme.example"])
    deliver(warehouse, report, {**real, "test": True})
    [received] = server.received
    assert received.recipients == ["qa@acme.example"]
    assert received.message["Subject"].startswith("[TEST] ") and "Cc" not in received.message
    deliver(warehouse, report, real, run_id="run-2")
    assert len(server.received) == 2, "a test send is another message: the real one still goes"
    assert server.received[0].message["Message-ID"] != server.received[1].message["Message-ID"]
    with pytest.raises(DeliveryConfigError, match="test_to"):
        delivery_for({**target(server), "test": True})


def test_files_too_large_to_attach_are_linked_or_the_message_fails(warehouse, server, tmp_path):
    report = day_report(warehouse)
    small = {"attach": ["xlsx"], "max_attachment_bytes": 1024}
    failed = deliver(warehouse, report, target(server, **small))
    [result] = failed.failed
    assert "more than max_attachment_bytes 1,024" in result.error and server.received == []

    links = tmp_path / "links"
    linked = target(
        server, name="linked", link_destination=str(links), link_base_url="https://files.acme.example/r", **small
    )
    assert not deliver(warehouse, report, linked, run_id="run-2").failed
    message = server.received[0].message
    assert list(message.iter_attachments()) == []
    [written] = list(links.iterdir())
    url = f"https://files.acme.example/r/{written.name}"
    assert url in message.get_body(("plain",)).get_content()
    assert f'href="{url}"' in message.get_body(("html",)).get_content()
    assert openpyxl.load_workbook(written).sheetnames[0] == "Summary"


# --- bad options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            {"to": ["ops@acme.example", "not an address"]},
            "to ['ops@acme.example', 'not an address']: [1] 'not an address'",
        ),
        ({"to": ["ops@acme"]}, "domain 'acme'"),
        ({"cc": ["a@acme.example\nBcc: x@evil.example"]}, "line break"),
        ({"sender": "reports"}, "sender 'reports'"),
        ({"subject": "{report} {perod}"}, "unknown field {perod}"),
        ({"subject": "{period_start:%d %b"}, "subject"),
        ({"alert_subject": "{calls:%Y}"}, "field {calls} with format '%Y'"),
        ({"to": [], "cc": []}, "give at least one recipient"),
        ({"link_base_url": "https://files.acme.example/"}, "link_base_url is given without the other"),
        ({"top_by": "calls_handeld"}, "top_by 'calls_handeld'"),
    ],
)
def test_bad_options_are_one_line_naming_the_field_and_value(server, options, named):
    base = target(server)
    if "to" in options and "cc" in options:
        base.pop("bcc")
    with pytest.raises(DeliveryConfigError) as refused:
        delivery_for({**base, **options})
    message = str(refused.value)
    assert message.startswith("email delivery: ") and "\n" not in message
    assert named in message, message


# --- the server: TLS, login, refusals, drops ------------------------------------------------------


def test_check_logs_in_and_asks_for_each_recipient_without_sending(server):
    delivery = delivery_for(target(server))
    result = delivery.check()
    assert result.ok and "logged in as 'reports-bot'" in result.detail and "3 recipients accepted" in result.detail
    assert server.received == [] and server.mailbox.logins == ["reports-bot"]
    server.mailbox.refuse_recipients.add("lead@acme.example")
    result = delivery.check()
    assert not result.ok and "lead@acme.example: 550 5.1.1" in result.detail


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_and_an_untrusted_certificate(warehouse, tmp_path, monkeypatch):
    report = day_report(warehouse)
    with (
        SmtpServer(tmp_path / "ssl", mode="ssl", users={"bot": PASSWORD})
        if (tmp_path / "ssl").mkdir() is None
        else None as smtp
    ):
        for name, value in smtp.environment("MAIL", username="bot", password=PASSWORD).items():
            monkeypatch.setenv(name, value)
        assert not deliver(warehouse, report, target(smtp)).failed
        assert len(smtp.received) == 1
        untrusted = deliver(warehouse, report, {**target(smtp, name="untrusted"), "tls_ca_file": None})
        [result] = untrusted.failed
        assert "TLS failed" in result.error and "certificate" in result.error and len(smtp.received) == 1


def test_a_wrong_password_fails_without_showing_it(warehouse, server, monkeypatch, caplog):
    wrong = "wrong-password-9f9f-never-shown"
    monkeypatch.setenv("MAIL_PASSWORD", wrong)
    with caplog.at_level(logging.DEBUG):
        failed = deliver(warehouse, day_report(warehouse), target(server))
    [result] = failed.failed
    assert "refused the login of user 'reports-bot'" in result.error and "535" in result.error
    shown = [caplog.text, result.error, *(str(v) for r in list_deliveries(warehouse) for v in r.__dict__.values())]
    assert not any(secret in text for text in shown for secret in (wrong, PASSWORD))
    assert server.received == []


def test_a_login_over_a_plain_connection_is_refused(warehouse, tmp_path, monkeypatch):
    with SmtpServer(tmp_path, mode="plain") as smtp:
        for name, value in smtp.environment("MAIL", username="bot", password=PASSWORD).items():
            monkeypatch.setenv(name, value)
        failed = deliver(warehouse, day_report(warehouse), {**target(smtp), "tls_ca_file": None})
        [result] = failed.failed
        assert "password in clear" in result.error and smtp.received == []
        monkeypatch.delenv("MAIL_USERNAME")  # a local relay without a login: plain is fine
        monkeypatch.delenv("MAIL_PASSWORD")
        assert not deliver(warehouse, day_report(warehouse), {**target(smtp, name="relay"), "tls_ca_file": None}).failed
        assert len(smtp.received) == 1


def test_a_refusing_server_fails_the_item_in_the_ledger_and_replay_sends_it(warehouse, server):
    report = day_report(warehouse)
    server.mailbox.data_reply = "554 5.7.1 Message rejected: policy"
    failed = deliver(warehouse, report, target(server, attempts=3))
    [result] = failed.failed
    assert "554 5.7.1 Message rejected: policy" in result.error and "attempts" not in result.error  # 5xx: not retried
    with pytest.raises(Exception, match=r"email delivery 'morning': 1 of 1 items failed: .*554 5\.7\.1"):
        failed.raise_for_failures()
    rows = list_deliveries(warehouse, unsent=True)
    assert [r.status for r in rows] == ["failed"]
    server.mailbox.data_reply = None
    replayed = replay(rows, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and len(server.received) == 1
    [row] = list_deliveries(warehouse)
    assert (row.status, row.attempts, row.target_ref) == ("sent", 2, server.received[0].message["Message-ID"])


def test_recipients_refused_by_the_server_fail_the_item_with_its_reply(warehouse, server):
    server.mailbox.refuse_recipients.add("lead@acme.example")
    failed = deliver(warehouse, day_report(warehouse), target(server))
    [result] = failed.failed
    assert "refused 1 of 3 recipients (lead@acme.example: 550 5.1.1" in result.error
    assert "the other 2 took it" in result.error and len(server.received) == 1


def test_a_dropped_connection_is_tried_again_then_failed_and_replayed(warehouse, server):
    report = day_report(warehouse)
    server.mailbox.drop = True
    failed = deliver(warehouse, report, target(server, attempts=2))
    [result] = failed.failed
    assert "closed the connection" in result.error and "after 2 attempts" in result.error
    server.mailbox.drop = False
    rows = list_deliveries(warehouse, unsent=True)
    replayed = replay(rows, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and len(server.received) == 1


def test_an_unreachable_server_fails_every_item(warehouse, server, monkeypatch):
    from tests.smtp_server import free_port

    monkeypatch.setenv("MAIL_SMTP_PORT", str(free_port()))
    failed = deliver(warehouse, day_report(warehouse), target(server))
    [result] = failed.failed
    assert "SMTP 127.0.0.1:" in result.error and "connect" in result.error
    assert not delivery_for(target(server)).check().ok


# --- idempotency ------------------------------------------------------------------------------------


def test_a_rerun_of_the_same_period_sends_nothing_unless_forced(warehouse, server):
    report = day_report(warehouse)
    first = deliver(warehouse, report, target(server))
    again = deliver(warehouse, day_report(warehouse), target(server), run_id="run-2")
    assert len(server.received) == 1 and not again.failed
    [skipped] = again.already_sent
    assert skipped.ref == first.results[0].ref and skipped.info["already_sent"] == first.ids[skipped.key]
    forced = deliver(warehouse, report, target(server), run_id="run-3", force=True)
    assert len(server.received) == 2 and forced.results[0].ref == first.results[0].ref  # the same Message-ID
    before = golden.DAY - timedelta(days=1)
    other_day = compute_report(warehouse, report.spec.model_copy(update={"start": before, "end": before}))
    deliver(warehouse, other_day, target(server), run_id="run-4")
    assert len(server.received) == 3, "another period is another message"
    others = deliver(warehouse, report, target(server, to=["someone@acme.example"]), run_id="run-5")
    assert len(server.received) == 4 and not others.already_sent, "other recipients: another message"


# --- after_call: alerts and digests ---------------------------------------------------------------


def call_batch(warehouse, calls, as_of, workflow="vip-missed"):
    """The call details of some golden calls as an after_call batch of `workflow` at `as_of`."""
    spec = make_spec(
        report="call-details",
        instance=golden.INSTANCE,
        rolling_date="custom",
        start=golden.DAY,
        end=golden.DAY,
        timezone="Asia/Dubai",
        as_of=as_of,
    )
    report = compute_report(warehouse, spec, as_of, only_call_ids=calls)
    keys = pa.array([f"{golden.INSTANCE}:call:{c}" for c in report.table["call_id"].to_pylist()])
    return replace(report, key=f"batch:{','.join(calls)}", keys=keys, origin=f"after_call:{workflow}")


def test_each_call_is_an_alert_of_its_own(warehouse, server):
    batch = call_batch(warehouse, ["c1", "c4"], datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    delivered = deliver(warehouse, batch, target(server, attach=["xlsx"]))
    assert [r.status for r in delivered.results] == ["sent", "sent"] and len(server.received) == 2
    subjects = sorted(r.message["Subject"] for r in server.received)
    assert subjects[0].startswith("[vip-missed] ") and "call from +97150" in subjects[0]
    assert all(list(r.message.iter_attachments()) == [] for r in server.received), "alerts attach nothing"
    again = deliver(warehouse, batch, target(server), run_id="run-2")
    assert len(server.received) == 2 and len(again.already_sent) == 2


def test_a_digest_sends_one_message_per_window_and_holds_what_came_after(warehouse, server):
    options = target(server, digest_minutes=15, alert_subject="{workflow}: {calls} calls")
    nine = datetime(2026, 11, 10, 5, 1, tzinfo=UTC)  # 09:01 in Dubai: the window 09:00-09:15
    first = deliver(warehouse, call_batch(warehouse, ["c1", "c3"], nine), options)
    assert [r.status for r in first.results] == ["sent"] and len(server.received) == 1
    assert server.received[0].message["Subject"] == "vip-missed: 2 calls"
    # the cursor moved past c1, c3; c4 comes in the same window: held, not a second message
    held = deliver(warehouse, call_batch(warehouse, ["c4"], nine + timedelta(minutes=9)), options, run_id="run-2")
    assert [r.status for r in held.results] == ["held"] and not held.failed and len(server.received) == 1
    assert list_deliveries(warehouse, unsent=True) == [], "held is not for replay"
    # the cursor stayed: the next window's batch has c4 again, and c5 that came since
    later = call_batch(warehouse, ["c4", "c5"], nine + timedelta(minutes=15))
    sent = deliver(warehouse, later, options, run_id="run-3")
    assert [r.status for r in sent.results] == ["sent"] and len(server.received) == 2
    assert server.received[1].message["Subject"] == "vip-missed: 2 calls"
    sent_keys = [set(r.row_keys or ()) for r in list_deliveries(warehouse, status="sent")]
    assert sorted(map(sorted, sent_keys)) == [["gold:call:c1", "gold:call:c3"], ["gold:call:c4", "gold:call:c5"]]
    text = server.received[1].message.get_body(("plain",)).get_content()
    assert "Digest of 10 Nov 09:15–09:30 (Asia/Dubai)" in text


def test_report_key_and_message_id_are_stable_across_computations(warehouse, server):
    one, two = day_report(warehouse), day_report(warehouse)
    delivery = delivery_for(target(server))
    assert [m.key for m in delivery.mails(one)] == [m.key for m in delivery.mails(two)]
    assert delivery.mails(one)[0].key.startswith(report_key(one) + ":to:")
    assert redact(delivery.plan(one).requests[0]["message_id"]) == delivery.plan(two).requests[0]["message_id"]


def test_workflow_test_send_test_mails_one_marked_row_to_the_test_recipients(warehouse, server):
    from ziwo_reports.connectors.delivery import parse_target
    from ziwo_reports.workflows.marked_send import MarkedItem, send_test

    report = day_report(warehouse)
    one = replace(report, table=report.table.slice(0, 1))
    with_test = parse_target(target(server, test_to=["qa@acme.example"]))
    without = parse_target(target(server, name="no-test"))
    sent, refused = send_test(MarkedItem(one, "Amal A", kept=True), [with_test, without])
    assert not sent.failed and [r.status for r in sent.results] == ["sent"]
    [received] = server.received
    assert received.recipients == ["qa@acme.example"] and received.message["Subject"].startswith("[TEST] ")
    assert refused.failed and "test_to" in refused.problem and len(server.received) == 1
    assert list_deliveries(warehouse) == [], "a test send is not in the ledger"


def test_a_server_that_never_answers_times_out(warehouse, server, monkeypatch):
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        monkeypatch.setenv("MAIL_SMTP_PORT", str(silent.getsockname()[1]))
        failed = deliver(warehouse, day_report(warehouse), target(server, timeout_s=0.5))
    [result] = failed.failed
    assert "no answer in time" in result.error and "connect" in result.error
