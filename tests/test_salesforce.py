"""The Salesforce connector over real HTTP against tests/fakes/salesforce.py: upserts by external id
(sObject Collections, Bulk API 2.0 above the threshold, failed records read back), reruns that
update and never duplicate, per-record failures in the ledger and their replay, a session that
expires mid-run, locked rows, a spent API allowance, the three login flows, secrets that never
show, and follow-ups on calls from an after_call workflow."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from datetime import timedelta

import pyarrow as pa
import pytest

from tests import golden
from tests.conftest import run_ingest
from tests.fakes.salesforce import FakeSalesforce, Field, new_rsa_key
from ziwo_reports.connectors.delivery import DeliveryError, delivery_for
from ziwo_reports.connectors.phone_numbers import national_number
from ziwo_reports.connectors.salesforce.client import soql_literal
from ziwo_reports.connectors.salesforce.delivery import phone_forms
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.after_call import calls_since
from ziwo_reports.workflows.model import parse_workflow
from ziwo_reports.workflows.run import run_workflow

OBJECT, KEY = "Ziwo_Agent_Metric__c", "Ziwo_Row_Key__c"
PRIVATE_KEY, PUBLIC_KEY = new_rsa_key()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")


@pytest.fixture
def fake(monkeypatch):
    with FakeSalesforce(public_key_pem=PUBLIC_KEY) as org:
        org.add_object(
            OBJECT,
            {
                KEY: Field(length=255, external_id=True, unique=True),
                "Agent__c": Field(length=6),  # "Celia C" is 7: her rows fail, the others go through
                "Answered__c": Field("double"),
                "Period_Start__c": Field(),
            },
        )
        for name, value in {
            "AUTH": "password",
            "USERNAME": org.username,
            "PASSWORD": org.password,
            "SECURITY_TOKEN": org.security_token,
            "CONSUMER_KEY": org.consumer_key,
            "CONSUMER_SECRET": org.consumer_secret,
        }.items():
            monkeypatch.setenv(f"SF_{name}", value)
        yield org


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ziwo.duckdb") as wh:
        golden.load(wh)
        yield wh


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def target(fake, **options):
    return {
        "type": "salesforce",
        "name": "sf",
        "credentials": "env:SF",
        "login_url": fake.url,
        "allow_private_urls": True,
        "sobject": OBJECT,
        "external_id_field": KEY,
        "bulk_poll_s": 0.02,
        "mapping": {"Agent__c": "group_name", "Answered__c": "calls_answered", "Period_Start__c": "period_start"},
        **options,
    }


def celia(report):
    names = report.table["group_name"].to_pylist()
    keys = [str(k) for k in row_keys(report).to_pylist()]
    return {key for key, name in zip(keys, names, strict=True) if len(name) > 6}


# --- upsert ------------------------------------------------------------------------------------------


def test_a_rerun_updates_the_same_records_and_never_duplicates(fake, warehouse):
    report = golden.report_of(warehouse)
    options = target(fake, mapping={"Answered__c": "calls_answered"})
    first = deliver_report(report, options, ledger(warehouse), run_id="r1", source="test")
    held = {r[KEY]: r for r in fake.records(OBJECT)}
    second = deliver_report(report, options, ledger(warehouse), run_id="r2", source="test")
    assert not first.failed and not second.failed
    assert len(fake.records(OBJECT)) == len(held) == report.table.num_rows
    assert {r[KEY]: r["Id"] for r in fake.records(OBJECT)} == {k: r["Id"] for k, r in held.items()}
    assert all(r.info["created"] for r in first.results) and not any(r.info["created"] for r in second.results)
    assert fake.count("PATCH", "/composite/sobjects/") == 2  # 9 rows: one collection each run


def test_invalid_rows_fail_alone_into_the_ledger_and_replay_sends_only_them(fake, warehouse):
    report = golden.report_of(warehouse)
    bad = celia(report)
    delivered = deliver_report(report, target(fake), ledger(warehouse), run_id="r1", source="test")
    assert {r.key for r in delivered.failed} == bad and 0 < len(bad) < report.table.num_rows
    assert all("STRING_TOO_LONG" in r.error and "Agent__c" in r.error for r in delivered.failed)
    assert {r[KEY] for r in fake.records(OBJECT)} == {r.key for r in delivered.results} - bad
    unsent = list_deliveries(warehouse, unsent=True)
    assert {row.chunk_key for row in unsent} == bad and all("STRING_TOO_LONG" in row.last_error for row in unsent)

    fake.objects[OBJECT].fields["Agent__c"].length = 80  # the admin widens the field
    before = fake.count("PATCH", "/composite/sobjects/")
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and fake.count("PATCH", "/composite/sobjects/") == before + 1
    assert {r.key for r in replayed.results.values()} == bad
    assert len(fake.records(OBJECT)) == report.table.num_rows


def test_an_expired_session_mid_run_logs_in_again_once(fake, warehouse):
    report = golden.report_of(warehouse)
    fake.expire_at = 3  # the third data request finds every session expired
    delivery = delivery_for(target(fake, batch_size=2, concurrency=4, mapping={"Answered__c": "calls_answered"}))
    results = list(delivery.deliver(report))
    assert all(r.status == "sent" for r in results) and len(results) == report.table.num_rows
    assert fake.logins == 2, "one login, then one more when the session expired, shared by the threads"


def test_above_the_threshold_one_bulk_job_and_its_failed_records_read_back(fake, warehouse):
    report = golden.report_of(warehouse)
    bad = celia(report)
    delivered = deliver_report(report, target(fake, bulk_threshold=5), ledger(warehouse), run_id="r1", source="t")
    assert fake.count("POST", "/jobs/ingest") == 1 and fake.count("PATCH", "/composite/") == 0
    assert fake.count("GET", "/failedResults/") == 1 and fake.count("PUT", "/batches") == 1
    assert {r.key for r in delivered.failed} == bad  # matched by key: the fake returns them in another order
    assert all("STRING_TOO_LONG" in r.error for r in delivered.failed)
    assert all(r.ref.startswith(OBJECT) for r in delivered.results if r.status == "sent")
    assert len(fake.records(OBJECT)) == report.table.num_rows - len(bad)
    again = deliver_report(report, target(fake, bulk_threshold=5), ledger(warehouse), run_id="r2", source="t")
    assert len(fake.records(OBJECT)) == report.table.num_rows - len(bad), "a bulk rerun updates"
    assert not any(r.info.get("created") for r in again.results if r.status == "sent")
    job = next(iter(fake.jobs.values()))
    assert job["operation"] == "upsert" and job["externalIdFieldName"] == KEY


def test_request_limit_exceeded_stops_the_run_with_a_clear_message(fake, warehouse):
    report = golden.report_of(warehouse)
    options = target(fake, batch_size=2, concurrency=1, mapping={"Answered__c": "calls_answered"}, api_usage_ceiling=1)
    delivery_for(options).check()  # logs in and describes: 1 data request
    fake.api_limit = fake.api_used + 2  # two more collections, then the allowance is spent
    with pytest.raises(DeliveryError) as stopped:
        deliver_report(report, options, ledger(warehouse), run_id="r1", source="test")
    message = str(stopped.value)
    assert "REQUEST_LIMIT_EXCEEDED" in message and "not a permission problem" in message and "\n" not in message
    assert fake.count("PATCH", "/composite/sobjects/") == 3, "the 403 is not retried, and nothing is sent after it"
    rows = list_deliveries(warehouse)
    assert sum(r.status == "sent" for r in rows) == 4
    assert all("REQUEST_LIMIT_EXCEEDED" in r.last_error for r in rows if r.status != "sent")
    assert len(rows) == report.table.num_rows, "every row is in the ledger, for replay"


def test_the_run_stops_at_the_api_usage_ceiling_leaving_the_rest_to_other_integrations(fake, warehouse):
    """Salesforce reports the org's usage on every answer (Sforce-Limit-Info: api-usage=94/100); at
    the ceiling (95% by default) nothing more is sent, and the rows not sent fail for replay."""
    report = golden.report_of(warehouse)
    options = target(fake, batch_size=2, concurrency=1, mapping={"Answered__c": "calls_answered"})
    fake.api_limit, fake.api_used = 100, 93
    with pytest.raises(DeliveryError) as stopped:
        deliver_report(report, options, ledger(warehouse), run_id="r1", source="test")
    message = str(stopped.value)
    assert "stopped at 95 of the org's 100 API requests" in message and "api_usage_ceiling of 95%" in message
    assert fake.count("PATCH", "/composite/sobjects/") == 2 and fake.api_used == 95, "nothing sent at the ceiling"
    rows = list_deliveries(warehouse)
    assert sum(r.status == "sent" for r in rows) == 4 and len(rows) == report.table.num_rows
    assert all("api_usage_ceiling" in r.last_error for r in rows if r.status != "sent")
    fake.api_used = 0  # the next day: replay sends the rest
    replayed = replay(
        list_deliveries(warehouse, unsent=True), lambda spec: compute_report(warehouse, spec), ledger(warehouse)
    )
    assert not replayed.failed and len(fake.records(OBJECT)) == report.table.num_rows


def test_locked_rows_are_retried_record_by_record_and_a_locked_request_whole(fake, warehouse):
    report = golden.report_of(warehouse)
    plan = delivery_for(target(fake, mapping={"Answered__c": "calls_answered"})).plan(report)
    fake.lock_records([plan.items[0].key, plan.items[3].key], times=2)
    fake.fail_next("UNABLE_TO_LOCK_ROW", 1)  # the first request is refused whole
    results = list(delivery_for(target(fake, mapping={"Answered__c": "calls_answered"})).deliver(report))
    assert all(r.status == "sent" for r in results)
    assert fake.count("PATCH", "/composite/sobjects/") == 4  # refused whole, then the batch, then locked twice


def test_check_describes_the_object_and_needs_an_external_unique_key(fake):
    assert delivery_for(target(fake)).check().ok
    fake.objects[OBJECT].fields[KEY].unique = False
    result = delivery_for(target(fake)).check()
    assert not result.ok and "unique" in result.detail
    assert not delivery_for(target(fake, external_id_field="Nope__c")).check().ok
    assert all(method == "GET" or "oauth2" in path for method, path in fake.calls), "check only reads"


def test_the_jwt_and_client_credentials_flows(fake, monkeypatch):
    for name in ("PASSWORD", "SECURITY_TOKEN", "CONSUMER_SECRET"):
        monkeypatch.delenv(f"SF_{name}")
    monkeypatch.setenv("SF_AUTH", "jwt")
    monkeypatch.setenv("SF_PRIVATE_KEY", PRIVATE_KEY)
    assert delivery_for(target(fake)).check().ok
    fake.audience = "https://test.salesforce.com"  # a sandbox's audience: the JWT must say so
    assert not delivery_for(target(fake)).check().ok
    assert delivery_for(target(fake, domain="test")).check().ok
    monkeypatch.setenv("SF_AUTH", "client_credentials")
    monkeypatch.setenv("SF_CONSUMER_SECRET", fake.consumer_secret)
    assert delivery_for(target(fake)).check().ok
    assert fake.logins == 3


def test_no_secret_in_logs_ledger_errors_or_plans(fake, warehouse, monkeypatch, caplog):
    report = golden.report_of(warehouse)
    secrets = [fake.password, fake.security_token, fake.consumer_secret]
    shown = []
    with caplog.at_level(logging.DEBUG):
        monkeypatch.setenv("SF_PASSWORD", "wrong-password-3c1d")
        failed = deliver_report(report, target(fake), ledger(warehouse), run_id="r1", source="test")
        assert len(failed.failed) == report.table.num_rows and "invalid_grant" in failed.failed[0].error
        with pytest.raises(DeliveryError) as refused:
            failed.raise_for_failures()
        shown.append(str(refused.value))
        monkeypatch.setenv("SF_PASSWORD", fake.password)
        fake.expire_at = fake.api_used + 2
        done = deliver_report(report, target(fake, batch_size=3), ledger(warehouse), run_id="r2", source="test")
        shown += [str(r.error) for r in done.results] + [str(done.plan.requests)]
    secrets += [*fake.issued, "wrong-password-3c1d"]
    shown += [caplog.text] + [str(row.__dict__) for row in list_deliveries(warehouse, limit=100)]
    assert fake.logins == 2 and len(fake.issued) == 2
    for secret in secrets:
        assert not any(secret in text for text in shown), "a secret showed"


def test_options_are_checked_without_io():
    from ziwo_reports.connectors.delivery import DeliveryConfigError

    with pytest.raises(DeliveryConfigError, match="external_id_field"):
        delivery_for({"type": "salesforce", "credentials": "env:SF", "sobject": OBJECT})
    with pytest.raises(DeliveryConfigError, match="batch_size"):
        delivery_for({"type": "salesforce", "credentials": "env:SF", "sobject": OBJECT, "external_id_field": KEY,
                      "batch_size": 201})  # fmt: skip
    with pytest.raises(DeliveryConfigError, match="domain"):
        delivery_for({"type": "salesforce", "credentials": "env:SF", "job": "follow_up", "domain": "https://x"})


# --- follow-ups --------------------------------------------------------------------------------------


def test_phone_forms_and_soql_literals_are_safe():
    assert phone_forms("+971 50-123 4567") == ["+971 50-123 4567", "971501234567", "+971501234567", "00971501234567"]
    assert phone_forms("00971501234567")[1:3] == ["971501234567", "+971501234567"]
    assert soql_literal("a'b\\c") == "'a\\'b\\\\c'"


def follow_up_target(fake, **options):
    return {
        "type": "salesforce",
        "name": "sf-follow-ups",
        "job": "follow_up",
        "credentials": "env:SF",
        "login_url": fake.url,
        "allow_private_urls": True,
        "mapping": {"Subject": {"template": "Call back {caller_number}"}, "Status": {"const": "Not Started"}},
        **options,
    }


@pytest.fixture
def calls(simulator, tmp_path):
    """A warehouse with one day of simulated calls; the after_call batch of all of them."""
    sim = simulator(days=1, calls_per_day=40)
    with open_warehouse(tmp_path / "calls.duckdb") as wh:
        run_ingest(sim, wh)
        batch = calls_since(wh, "follow-up", on_change="once", instance="sim", timezone="Asia/Dubai", since_run=0)
        yield wh, batch.report


def test_follow_ups_on_contacts_and_leads_and_a_rerun_never_makes_a_second(fake, calls):
    wh, report = calls
    numbers = [n for n in report.table["caller_number"].to_pylist() if n]
    assert len(set(numbers)) >= 3
    contact = fake.add_record("Contact", LastName="Known", Phone=phone_forms(numbers[0])[2])
    lead = fake.add_record("Lead", LastName="Prospect", MobilePhone=phone_forms(numbers[1])[1], IsConverted=False)
    delivered = deliver_report(report, follow_up_target(fake), ledger(wh), run_id="r1", source="test")
    again = deliver_report(report, follow_up_target(fake), ledger(wh), run_id="r2", source="test")
    assert not delivered.failed and not again.failed
    tasks = fake.records("Task")
    matched = {numbers[0], numbers[1]}
    calls_matched = [n for n in report.table["caller_number"].to_pylist() if n in matched]
    assert len(tasks) == len(calls_matched) > 0, "a Task per matched call, once, however often it is delivered"
    assert {t["WhoId"] for t in tasks} == {contact, lead}
    assert all(t["Ziwo_Call_Key__c"].startswith("sim:call:") and t["Status"] == "Not Started" for t in tasks)
    skipped = [r for r in delivered.results if r.ref and r.ref.startswith("skipped")]
    assert len(skipped) == report.table.num_rows - len(calls_matched)


def test_a_number_typed_any_way_is_found_by_a_phone_search_and_confirmed(fake, calls):
    """A Contact whose Phone was typed nationally with spaces (`050 123 4567`) is not found by the
    exact SOQL forms: the SOSL phone search finds it, and a more recent Contact in another country
    whose number ends with the same digits is passed over."""
    wh, report = calls
    number = next(n for n in report.table["caller_number"].to_pylist() if n and n.startswith("+971"))
    national = national_number(number)
    typed = fake.add_record("Contact", LastName="Typed", Phone=f"0{national[:2]} {national[2:5]} {national[5:]}")
    fake.add_record("Contact", LastName="Elsewhere", Phone=f"+44 20 {national}")
    delivered = deliver_report(report, follow_up_target(fake), ledger(wh), run_id="r1", source="test")
    assert not delivered.failed and fake.count("GET", "/search") > 0
    tasks = fake.records("Task")
    assert len(tasks) == report.table["caller_number"].to_pylist().count(number)
    assert {t["WhoId"] for t in tasks} == {typed}


def test_a_follow_up_key_that_is_not_external_id_is_found_by_a_query_then_updated(fake, calls):
    """Not every org lets an activity field be External ID: the Task is then looked up by its key
    before it is created, and a rerun updates it (PATCH by Id) instead of making a second."""
    wh, report = calls
    fake.objects["Task"].fields["Ziwo_Call_Key__c"].external_id = False
    numbers = [n for n in report.table["caller_number"].to_pylist() if n]
    contact = fake.add_record("Contact", LastName="Known", Phone=phone_forms(numbers[0])[2])
    check = delivery_for(follow_up_target(fake)).check()
    assert check.ok and "found by a query" in check.detail, check.detail
    first = deliver_report(report, follow_up_target(fake), ledger(wh), run_id="r1", source="test")
    tasks = fake.records("Task")
    matched = numbers.count(numbers[0])
    assert not first.failed and len(tasks) == matched and {t["WhoId"] for t in tasks} == {contact}
    assert all(t["Ziwo_Call_Key__c"].startswith("sim:call:") for t in tasks)
    fake.calls.clear()
    again = deliver_report(
        report,
        follow_up_target(fake, mapping={"Subject": {"const": "Called back"}}),
        ledger(wh),
        run_id="r2",
        source="test",
    )
    assert not again.failed and len(fake.records("Task")) == matched, "a rerun never makes a second Task"
    assert {t["Subject"] for t in fake.records("Task")} == {"Called back"}
    assert fake.count("PATCH", "/sobjects/Task/00T") == matched and fake.count("POST", "/sobjects/Task") == 0
    fake.objects["Task"].fields["Ziwo_Call_Key__c"].type = "textarea"
    assert "cannot be filtered" in delivery_for(follow_up_target(fake)).check().detail


def test_create_contact_when_none_matches_then_cases_on_them_once(fake, calls):
    wh, report = calls
    options = follow_up_target(fake, follow_up="case", on_no_match="create_contact")
    deliver_report(report, options, ledger(wh), run_id="r1", source="test").raise_for_failures()
    deliver_report(report, options, ledger(wh), run_id="r2", source="test").raise_for_failures()
    with_number = [n for n in report.table["caller_number"].to_pylist() if n]
    contacts, cases = fake.records("Contact"), fake.records("Case")
    assert len(contacts) == len(set(with_number)), "one Contact per number, found again on the rerun"
    assert len(cases) == len(with_number) and {c["ContactId"] for c in cases} == {c["Id"] for c in contacts}
    assert fake.count("POST", "/sobjects/Contact") == len(set(with_number))


def test_a_quote_in_the_number_stays_a_literal(fake, calls):
    _, report = calls

    nasty = "1' OR Phone != 'x"
    table = report.table.set_column(
        report.table.column_names.index("caller_number"), "caller_number", pa.array([nasty] * report.table.num_rows)
    )
    fake.add_record("Contact", LastName="Someone", Phone="+971500000000")
    results = list(delivery_for(follow_up_target(fake)).deliver(replace(report, table=table)))
    assert all(r.status == "sent" and r.ref.startswith("skipped") for r in results), results[:2]
    assert fake.records("Task") == []


def test_an_after_call_workflow_creates_each_follow_up_once(fake, simulator, tmp_path):
    sim = simulator(days=1, calls_per_day=60)
    path = tmp_path / "ziwo.duckdb"
    with open_warehouse(path) as wh:
        run_ingest(sim, wh)
    workflow = parse_workflow(
        {
            "name": "missed-follow-up",
            "trigger": {"after_call": {"on_change": "once"}},
            "operation": {"call": {}},
            "conditions": "caller_number is not empty",
            "deliveries": [follow_up_target(fake, on_no_match="create_contact")],
        }
    )
    first = run_workflow(workflow, path, run_id="r1", source="test")  # sets the cursor
    assert first.targets == []
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    with open_warehouse(path) as wh:
        run_ingest(sim, wh)
    second = run_workflow(workflow, path, run_id="r2", source="test")
    assert second.kept > 0 and len(fake.records("Task")) == second.kept
    third = run_workflow(workflow, path, run_id="r3", source="test")
    assert third.targets == [] and len(fake.records("Task")) == second.kept
    with open_warehouse(path, read_only=True) as wh:
        rows = list_deliveries(wh, limit=1000)
    assert len(rows) == second.kept and all(r.status == "sent" and r.target_type == "salesforce" for r in rows)


def test_the_credentials_block_keeps_its_secrets_obfuscated(prefect_api, fake):
    from prefect.client.orchestration import get_client

    from ziwo_reports.connectors.salesforce.block import SalesforceCredentials

    SalesforceCredentials(
        auth="jwt", username=fake.username, consumer_key=fake.consumer_key, private_key=PRIVATE_KEY
    ).save("sf-creds", overwrite=True)
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(
            "sf-creds", block_type_slug="salesforce-credentials", include_secrets=False
        )
    assert "PRIVATE KEY" not in str(document.data) and "****" in str(document.data)
    assert delivery_for(target(fake, credentials="sf-creds")).check().ok  # the JWT flow, from the block
