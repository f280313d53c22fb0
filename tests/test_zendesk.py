"""The Zendesk connector over real HTTP against the fake of tests/fakes/zendesk.py: records upserted
in bulk jobs (a rerun updates, never adds; invalid records fail alone and replay completes them),
job polling, 429 with Retry-After, credentials that expire mid-run (OAuth client credentials renew
once; a fixed token fails clearly), check and plan read-only, agents' user fields (one row per user,
an unknown user failing alone and replayed), follow-ups (tickets and internal notes)
never duplicated, and an after_call workflow creating each follow-up once."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

import pytest

from tests import golden
from tests.conftest import run_ingest
from tests.fakes.zendesk import FakeZendesk
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for
from ziwo_reports.connectors.phone_numbers import significant_digits
from ziwo_reports.connectors.zendesk.delivery import call_tag
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.model import parse_workflow
from ziwo_reports.workflows.run import run_workflow

OBJECT = "agent_metrics"
FIELDS = {"agent_id": "text", "agent_name": "text", "answered": "integer", "avg_talk_s": "decimal"}
MAPPING = {
    "agent_id": {"column": "group_id", "cast": "string"},
    "agent_name": "group_name",
    "answered": "calls_answered",
    "avg_talk_s": "avg_talk_time_s",
}


@pytest.fixture
def zd(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    with FakeZendesk() as fake:
        fake.define_object(OBJECT, FIELDS, title="Agent metrics")
        monkeypatch.setenv("ZD_AUTH", "api_token")
        monkeypatch.setenv("ZD_EMAIL", fake.email)
        monkeypatch.setenv("ZD_API_TOKEN", fake.api_token)
        monkeypatch.setenv("ZDO_AUTH", "oauth_client_credentials")
        monkeypatch.setenv("ZDO_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("ZDO_CLIENT_SECRET", fake.client_secret)
        yield fake


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ledger.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def target(zd, **options):
    return {
        "type": "zendesk",
        "name": "zendesk-metrics",
        "base_url": zd.url,
        "allow_private_urls": True,
        "credentials": "env:ZD",
        "custom_object_key": OBJECT,
        "record_name": "{group_name} {period_start}",
        "mapping": MAPPING,
        "job_poll_interval_s": 0.02,
        **options,
    }


def follow_up(zd, **options):
    return {
        "type": "zendesk",
        "name": "zendesk-follow-ups",
        "base_url": zd.url,
        "allow_private_urls": True,
        "credentials": "env:ZD",
        "job": "follow_up",
        "subject": "Call back {caller_number}",
        "mapping": {"priority": {"const": "normal"}},
        **options,
    }


def calls(warehouse):
    return golden.report_of(warehouse, report="call-details", interval="none")


def secrets_of(zd):
    return [zd.api_token, zd.client_secret, *zd.oauth_tokens]


# --- upsert ---------------------------------------------------------------------------------------


def test_a_rerun_updates_the_same_records_and_never_adds(zd, warehouse):
    report = golden.report_of(warehouse)
    rows = report.table.num_rows
    first = deliver_report(report, target(zd, batch_size=4), ledger(warehouse), run_id="r1", source="test")
    held = zd.records(OBJECT)
    assert not first.failed and len(held) == rows
    assert all(r.ref in {rec["id"] for rec in held.values()} for r in first.results)
    second = deliver_report(report, target(zd, batch_size=4), ledger(warehouse), run_id="r2", source="test")
    again = zd.records(OBJECT)
    assert not second.failed and set(again) == set(held)
    assert {k: (v["id"], v["name"], v["custom_object_fields"]) for k, v in again.items()} == {
        k: (v["id"], v["name"], v["custom_object_fields"]) for k, v in held.items()
    }
    assert [j["results"][0]["status"] for j in zd.jobs.values()].count("Updated") == -(-rows // 4)
    # jobs of at most batch_size items; polled together, not one request per job
    jobs = zd.seen("POST", f"/api/v2/custom_objects/{OBJECT}/jobs")
    assert len(jobs) == 2 * -(-rows // 4)
    assert len(zd.seen("GET", "/api/v2/job_statuses")) <= len(jobs)
    record = next(iter(held.values()))
    assert record["custom_object_fields"]["agent_name"] in {"Amal A", "Badr B", "Celia C"}


def test_invalid_records_fail_alone_and_replay_sends_only_those(zd, warehouse):
    zd.define_object(OBJECT, {**FIELDS, "avg_talk_s": "integer"})  # an average (a JSON number like 50.0) is refused
    report = golden.report_of(warehouse)
    bad = [value is not None for value in report.table["avg_talk_time_s"].to_pylist()]
    assert any(bad) and not all(bad)
    delivered = deliver_report(report, target(zd), ledger(warehouse), run_id="r1", source="test")
    assert len(delivered.failed) == sum(bad)
    assert all("avg_talk_s" in r.error and "is not an integer" in r.error for r in delivered.failed)
    assert len(zd.records(OBJECT)) == len(bad) - sum(bad)
    unsent = list_deliveries(warehouse, unsent=True)
    assert len(unsent) == sum(bad) and {r.chunk_key for r in unsent} == {r.key for r in delivered.failed}

    zd.define_object(OBJECT, FIELDS)  # the field fixed: decimal
    jobs_before = len(zd.jobs)
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and list_deliveries(warehouse, unsent=True) == []
    assert len(zd.records(OBJECT)) == len(bad)
    new_jobs = list(zd.jobs.values())[jobs_before:]
    assert sum(job["total"] for job in new_jobs) == sum(bad), "replay sent only the failed records"


def test_jobs_still_queued_are_polled_until_completed(zd, warehouse):
    zd.polls_queued = 2
    report = golden.report_of(warehouse)
    delivered = deliver_report(report, target(zd, batch_size=3), ledger(warehouse), run_id="r", source="test")
    assert not delivered.failed and len(zd.records(OBJECT)) == report.table.num_rows
    polls = zd.seen("GET", "/api/v2/job_statuses/show_many")
    assert len(polls) >= 3


def test_a_job_that_never_finishes_fails_its_records_for_replay(zd, warehouse):
    zd.polls_queued = 10_000
    report = golden.report_of(warehouse)
    delivered = deliver_report(report, target(zd, job_poll_timeout_s=0.2), ledger(warehouse), run_id="r", source="test")
    assert len(delivered.failed) == report.table.num_rows
    assert all("still queued after 0.2 s" in r.error for r in delivered.failed)


def test_429_with_retry_after_waits_and_succeeds(zd, warehouse):
    report = golden.report_of(warehouse)
    zd.rate_limit(1, retry_after="1")
    started = time.monotonic()
    delivered = deliver_report(report, target(zd, concurrency=1), ledger(warehouse), run_id="r", source="test")
    took = time.monotonic() - started
    assert not delivered.failed and len(zd.records(OBJECT)) == report.table.num_rows
    assert [s.status for s in zd.requests].count(429) == 1
    assert took >= 1.0, "the wait Zendesk asked for was honoured"


def test_oauth_client_credentials_renew_once_when_the_token_expires_mid_run(zd, warehouse, monkeypatch):
    report = golden.report_of(warehouse)
    delivery = delivery_for(target(zd, credentials="env:ZDO", batch_size=2, max_queued_jobs=1, concurrency=1))
    results = []
    for result in delivery.deliver(report):
        results.append(result)
        if len(results) == 2:  # the first job is done: every token issued so far expires
            zd.expire_tokens()
    assert [r.status for r in results] == ["sent"] * report.table.num_rows
    assert zd.tokens_issued == 2, "one token at the start, one after the 401"
    assert [s.status for s in zd.requests].count(401) == 1
    assert {s.auth for s in zd.seen(prefix="/api/")} == {"bearer"}


def test_a_fixed_token_refused_mid_run_fails_clearly_and_sends_nothing_more(zd, warehouse, monkeypatch, caplog):
    token = zd.issue_oauth_token()
    monkeypatch.setenv("ZDT_AUTH", "oauth_token")
    monkeypatch.setenv("ZDT_OAUTH_TOKEN", token)
    report = golden.report_of(warehouse)
    delivery = delivery_for(target(zd, credentials="env:ZDT", batch_size=2, max_queued_jobs=1, concurrency=1))
    results = []
    with caplog.at_level(logging.DEBUG):
        for result in delivery.deliver(report):
            results.append(result)
            if len(results) == 2:
                zd.expire_tokens()
    sent = [r for r in results if r.status == "sent"]
    failed = [r for r in results if r.status == "failed"]
    assert len(sent) == 2 and len(failed) == report.table.num_rows - 2
    assert "HTTP 401 Couldn't authenticate you" in failed[0].error and "token was refused" in failed[0].error
    assert all(r.error.startswith("not sent:") for r in failed[2:])
    assert [s.status for s in zd.requests].count(401) == 1, "after the refusal nothing more was sent"
    assert not any(token in text for text in [caplog.text, *(r.error for r in failed)])


def test_no_secret_in_the_ledger_the_logs_or_the_errors(zd, warehouse, monkeypatch, caplog):
    monkeypatch.setenv("ZDB_AUTH", "api_token")
    monkeypatch.setenv("ZDB_EMAIL", zd.email)
    monkeypatch.setenv("ZDB_API_TOKEN", "not-the-token-4f2a9e")
    report = golden.report_of(warehouse)
    with caplog.at_level(logging.DEBUG):
        failed = deliver_report(report, target(zd, credentials="env:ZDB"), ledger(warehouse), run_id="r", source="t")
        oauth = deliver_report(report, target(zd, credentials="env:ZDO"), ledger(warehouse), run_id="o", source="t")
        check = delivery_for(target(zd, credentials="env:ZDB")).check()
    assert failed.failed and not oauth.failed and not check.ok
    with pytest.raises(Exception) as raised:
        failed.raise_for_failures()
    shown = [caplog.text, str(raised.value), check.detail, *(r.error or "" for r in failed.failed)]
    shown += [str(v) for row in list_deliveries(warehouse) for v in row.__dict__.values()]
    for secret in [*secrets_of(zd), "not-the-token-4f2a9e"]:
        assert not any(secret in text for text in shown), "a secret showed"
    assert "401" in failed.failed[0].error


# --- check and plan -------------------------------------------------------------------------------


def test_check_is_read_only_and_names_a_missing_field(zd):
    ok = delivery_for(target(zd)).check()
    assert ok.ok and "agent_metrics" in ok.detail and "signed in as user" in ok.detail
    missing = delivery_for(target(zd, mapping={**MAPPING, "queue": "group_name"})).check()
    assert not missing.ok and "has no field queue" in missing.detail
    gone = delivery_for(target(zd, custom_object_key="no_such_object")).check()
    assert not gone.ok and "RecordNotFound" in gone.detail
    assert {s.method for s in zd.requests} == {"GET"}


def test_plan_shows_the_jobs_exactly_with_credentials_masked(zd, warehouse):
    report = golden.report_of(warehouse)
    plan = delivery_for(target(zd, batch_size=4)).plan(report)
    assert [i.key for i in plan.items] == [str(k) for k in report.keys or golden_keys(report)]
    assert plan.requests and plan.requests[0]["url"].endswith(f"/api/v2/custom_objects/{OBJECT}/jobs")
    assert zd.api_token not in str(plan.requests) and "Basic" in plan.requests[0]["headers"]["Authorization"]
    assert '"create_or_update_by_external_id"' in plan.requests[0]["body"]
    assert zd.requests == [], "a plan sends nothing"


def golden_keys(report):
    from ziwo_reports.report_model import row_keys

    return row_keys(report).to_pylist()


def test_options_are_checked_without_io():
    with pytest.raises(DeliveryConfigError, match="custom_object_key"):
        delivery_for({"type": "zendesk", "subdomain": "acme", "credentials": "env:ZD", "mapping": {"a": "b"}})
    with pytest.raises(DeliveryConfigError, match="batch_size"):
        delivery_for({"type": "zendesk", "subdomain": "acme", "credentials": "env:ZD", "custom_object_key": "x",
                      "mapping": {"a": "b"}, "batch_size": 101})  # fmt: skip
    with pytest.raises(DeliveryConfigError, match="subdomain"):
        delivery_for({"type": "zendesk", "subdomain": "Acme Inc", "credentials": "env:ZD", "job": "follow_up"})


# --- follow-ups -----------------------------------------------------------------------------------


# --- user fields -----------------------------------------------------------------------------------


def agent_fields(zd, **options):
    return {
        "type": "zendesk",
        "name": "zendesk-agent-fields",
        "base_url": zd.url,
        "allow_private_urls": True,
        "credentials": "env:ZD",
        "job": "user_fields",
        "user_key": "ziwo-{group_id}",
        "mapping": {"ziwo_answered": "calls_answered", "ziwo_avg_talk_s": "avg_talk_time_s"},
        "job_poll_interval_s": 0.02,
        **options,
    }


def test_user_fields_update_each_agents_user_and_an_unknown_agent_fails_alone(zd, warehouse):
    zd.user_fields.update({"ziwo_answered": "integer", "ziwo_avg_talk_s": "decimal"})
    report = golden.report_of(warehouse, interval="none")
    agents = [str(a) for a in report.table["group_id"].to_pylist()]
    answered = dict(zip(agents, report.table["calls_answered"].to_pylist(), strict=True))
    users = {a: zd.add_user(name=f"Agent {a}", role="agent", external_id=f"ziwo-{a}") for a in agents[1:]}
    assert delivery_for(agent_fields(zd)).check().ok
    plan = delivery_for(agent_fields(zd)).plan(report)
    assert [r["method"] for r in plan.requests] == ["GET", "PUT"] and zd.seen("PUT") == []
    first = deliver_report(report, agent_fields(zd, batch_size=2), ledger(warehouse), run_id="r1", source="test")
    failed = [r for r in first.results if r.status == "failed"]
    assert len(failed) == 1 and f"external_id 'ziwo-{agents[0]}'" in failed[0].error
    for agent, user_id in users.items():
        assert zd.users[user_id]["user_fields"]["ziwo_answered"] == answered[agent]
    assert len(zd.seen("PUT", "/api/v2/users/update_many")) == -(-(len(agents) - 1) // 2)
    # The missing agent gets a Zendesk user with that external_id: replay sends that row alone.
    late = zd.add_user(name="Late agent", role="agent", external_id=f"ziwo-{agents[0]}")
    puts = len(zd.seen("PUT"))
    unsent = list_deliveries(warehouse, unsent=True)
    assert len(unsent) == 1
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and list_deliveries(warehouse, unsent=True) == []
    assert zd.users[late]["user_fields"]["ziwo_answered"] == answered[agents[0]]
    assert len(zd.seen("PUT")) == puts + 1, "replay sent only the failed row"
    # A field the account does not have: check names it; a value Zendesk refuses fails its row alone.
    assert "ziwo_nope" in delivery_for(agent_fields(zd, mapping={"ziwo_nope": "calls_answered"})).check().detail
    zd.user_fields["ziwo_avg_talk_s"] = "integer"
    bad = deliver_report(report, agent_fields(zd), ledger(warehouse), run_id="r2", source="test")
    assert all(r.status == "failed" and "ziwo_avg_talk_s" in r.error for r in bad.results if r.status == "failed")


def test_user_fields_refuse_two_rows_for_one_user_before_sending(zd, warehouse):
    report = golden.report_of(warehouse)  # hourly rows: an agent has several
    with pytest.raises(DeliveryConfigError, match="one row per agent"):
        delivery_for(agent_fields(zd)).plan(report)
    assert zd.seen("PUT") == [] and zd.seen("GET", "/api/v2/users") == []


def test_follow_up_tickets_are_created_once_per_call(zd, warehouse):
    known = zd.add_user(name="Known caller", phone="+971 50 111 1111")
    # c4 calls as +971504444444: the older user shares its last digits in another country
    zd.add_user(name="Another country, same last digits", phone="+44 20 504 444 4444")
    national = zd.add_user(name="Typed without the country code", phone="050 444 4444")
    report = calls(warehouse)
    first = deliver_report(report, follow_up(zd), ledger(warehouse), run_id="r1", source="test")
    assert not first.failed
    tickets = list(zd.tickets.values())
    keyed = {t["external_id"]: t for t in tickets}
    with_number = [r for r in report.table.to_pylist() if significant_digits(r["caller_number"])]
    assert len(tickets) == len(keyed) == len(with_number)
    c1 = keyed[f"{golden.INSTANCE}:call-details:c1"]
    assert c1["requester_id"] == known and c1["subject"] == "Call back +971501111111"
    assert c1["comments"][0]["public"] is False and call_tag(c1["external_id"]) in c1["tags"]
    assert c1["priority"] == "normal"
    assert keyed[f"{golden.INSTANCE}:call-details:c4"]["requester_id"] == national
    # the three formats of +971 50 222 2222 are one requester, created once
    created = [u for u in zd.users.values() if (u["external_id"] or "").startswith("ziwo-phone:")]
    assert len(created) == len({significant_digits(r["caller_number"])[-9:] for r in with_number}) - 2
    skipped = [r for r in first.results if (r.ref or "").startswith("skipped")]
    assert len(skipped) == report.table.num_rows - len(with_number)

    second = deliver_report(report, follow_up(zd), ledger(warehouse), run_id="r2", source="test")
    assert not second.failed and len(zd.tickets) == len(tickets), "a rerun created no second ticket"
    assert all("already there" in r.ref or r.ref.startswith("skipped") for r in second.results)
    assert len(zd.users) == 4 + len(created)


def test_on_no_match_skip_creates_no_user(zd, warehouse):
    zd.add_user(name="Known caller", phone="+971 50 111 1111")
    delivered = deliver_report(calls(warehouse), follow_up(zd, on_no_match="skip"), ledger(warehouse), run_id="r",
                               source="test")  # fmt: skip
    assert not delivered.failed and len(zd.tickets) == 1 and len(zd.users) == 2
    assert sum((r.ref or "").startswith("skipped: no end user") for r in delivered.results) > 0


def test_internal_notes_go_on_the_latest_open_ticket_once(zd, warehouse):
    caller = zd.add_user(name="Known caller", phone="+971 50 111 1111")
    older = zd.add_ticket(caller, "older", status="open", created_at="2026-11-01T10:00:00Z")
    latest = zd.add_ticket(caller, "latest", status="pending", created_at="2026-11-05T10:00:00Z")
    zd.add_ticket(caller, "solved", status="solved", created_at="2026-11-08T10:00:00Z")
    options = follow_up(zd, follow_up_as="internal_note", on_no_match="skip")
    report = calls(warehouse)
    first = deliver_report(report, options, ledger(warehouse), run_id="r1", source="test")
    assert not first.failed
    notes = zd.tickets[latest]["comments"][1:]
    assert len(notes) == 1 and notes[0]["public"] is False and "[ziwo call gold:call-details:c1]" in notes[0]["body"]
    assert len(zd.tickets[older]["comments"]) == 1 and len(zd.tickets) == 3
    second = deliver_report(report, options, ledger(warehouse), run_id="r2", source="test")
    assert not second.failed and len(zd.tickets[latest]["comments"]) == 2, "a rerun added no second note"
    assert any("note (already there)" in (r.ref or "") for r in second.results)


def test_an_internal_note_without_an_open_ticket_becomes_a_ticket_once(zd, warehouse):
    caller = zd.add_user(name="Known caller", phone="+971 50 111 1111")
    zd.add_ticket(caller, "closed", status="closed")
    options = follow_up(zd, follow_up_as="internal_note", on_no_match="skip")
    deliver_report(calls(warehouse), options, ledger(warehouse), run_id="r1", source="test")
    deliver_report(calls(warehouse), options, ledger(warehouse), run_id="r2", source="test")
    created = [t for t in zd.tickets.values() if t["external_id"]]
    assert [t["external_id"] for t in created] == ["gold:call-details:c1"]


def test_follow_up_needs_the_phone_column(zd, warehouse):
    with pytest.raises(DeliveryConfigError, match="phone_column 'caller_number'"):
        delivery_for(follow_up(zd)).plan(golden.report_of(warehouse))


def test_an_after_call_workflow_creates_each_follow_up_once(zd, simulator, tmp_path):
    sim = simulator(days=1, calls_per_day=60)
    path = tmp_path / "ziwo.duckdb"
    workflow = parse_workflow(
        {
            "name": "zendesk-follow-up",
            "trigger": {"after_call": {"on_change": "once"}},
            "operation": {"call": {}},
            "conditions": "caller_number is not empty",
            "deliveries": [follow_up(zd)],
        }
    )
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
    run_workflow(workflow, path, run_id="r1", source="test")  # a fresh workflow starts at the current run
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
    second = run_workflow(workflow, path, run_id="r2", source="test")
    assert not second.failed and second.kept > 0
    keyed = {t["external_id"] for t in zd.tickets.values()}
    with open_warehouse(path, read_only=True) as warehouse:
        rows = [r for r in list_deliveries(warehouse, limit=10_000) if r.run_id == "r2"]
    followed = {r.chunk_key for r in rows if not (r.target_ref or "").startswith("skipped")}
    assert keyed == followed and len(zd.tickets) == len(followed) > 0
    assert all(":call:" in key for key in keyed)
    third = run_workflow(workflow, path, run_id="r3", source="test")
    assert third.seen == 0 and len(zd.tickets) == len(followed)
    # the same batch delivered again (a replay, a rerun): no second ticket
    with open_warehouse(path, read_only=True) as warehouse:
        again = list_deliveries(warehouse, limit=10_000)
    assert len({r.chunk_key for r in again}) == len(rows)
