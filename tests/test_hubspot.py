"""The HubSpot delivery over real HTTP against the fake HubSpot API (tests/fakes/hubspot.py):
batch upsert by a unique property (reruns update, 207 partial failures per row, the 100-input
limit), follow-ups of calls (a task or call engagement on the caller's contact, upserted by the
call's key), tokens (401 mid-run, read again once), rate limits (SECONDLY waits, DAILY stops),
check(), plan(), no secret shown, and an after_call workflow run."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
import requests

from tests import golden
from tests.conftest import run_ingest
from tests.fakes.hubspot import HubSpotFake, Property
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import Report, make_spec, report_window
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.model import parse_workflow
from ziwo_reports.workflows.run import run_workflow

TOKEN = "pat-na1-test-4c1f2a77-9d0e"
ROTATED = "pat-na1-rotated-8e3b51c0-77aa"
OBJECT = "p_agent_metrics"


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("HS_ACCESS_TOKEN", TOKEN)


@pytest.fixture
def hubspot():
    with HubSpotFake(tokens=[TOKEN]) as fake:
        fake.define(
            OBJECT,
            [
                Property("ziwo_row_key", unique=True),
                Property("agent_name"),
                Property("calls_answered", "number"),
                Property("team", "enumeration", options=("1", "3")),
                Property("period_start", "datetime"),
                Property("not_unique"),
            ],
        )
        yield fake


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ledger.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def upsert_target(fake, **options):
    return {
        "type": "hubspot",
        "name": "hs-metrics",
        "object_type": OBJECT,
        "credentials": "env:HS",
        "api_base": fake.url,
        "allow_private_urls": True,
        "concurrency": 1,
        "mapping": {"agent_name": "group_name", "calls_answered": "calls_answered", "period_start": "period_start"},
        **options,
    }


def records(fake):
    return fake.by(OBJECT, "ziwo_row_key")


# --- upsert --------------------------------------------------------------------------------------


def test_a_rerun_updates_the_same_records_and_never_duplicates(hubspot, warehouse):
    report = golden.report_of(warehouse)
    first = deliver_report(report, upsert_target(hubspot), ledger(warehouse), run_id="r1", source="test")
    held = records(hubspot)
    assert not first.failed and len(held) == report.table.num_rows == 9
    assert all(r.ref.endswith("created") for r in first.results)
    second = deliver_report(report, upsert_target(hubspot), ledger(warehouse), run_id="r2", source="test")
    assert not second.failed and all(r.ref.endswith("updated") for r in second.results)
    assert records(hubspot) == held, "a rerun added or changed records"
    # 9 rows in batches of 100: one request a run
    assert len(hubspot.requests("/batch/upsert")) == 2
    sample = next(iter(held.values()))
    assert sample["period_start"].startswith("2026-11-10") and sample["calls_answered"].isdigit()


def test_a_batch_with_invalid_rows_delivers_the_valid_ones_and_ledgers_the_others(hubspot, warehouse):
    report = golden.report_of(warehouse)
    target = upsert_target(
        hubspot, mapping={"agent_name": "group_name", "team": {"column": "group_id", "cast": "string"}}
    )
    delivered = deliver_report(report, target, ledger(warehouse), run_id="r1", source="test")
    teams = report.table["group_id"].to_pylist()
    assert [r.status for r in delivered.results].count("failed") == teams.count(2) > 0
    assert hubspot.requests("/batch/upsert")[0].status == 207
    assert len(records(hubspot)) == teams.count(1) + teams.count(3)
    unsent = list_deliveries(warehouse, unsent=True)
    assert len(unsent) == teams.count(2)
    assert all("VALIDATION_ERROR" in r.last_error and "INVALID_OPTION" in r.last_error for r in unsent)
    assert all(":agent=2:" in r.chunk_key for r in unsent)

    hubspot.define(OBJECT, [Property("team", "enumeration", options=("1", "2", "3"))])  # the option is added
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and len(replayed.results) == teams.count(2)
    inputs = hubspot.requests("/batch/upsert")[-1].body["inputs"]
    assert len(inputs) == teams.count(2), "replay sent only the failed rows"
    assert len(records(hubspot)) == report.table.num_rows
    assert list_deliveries(warehouse, unsent=True) == []


def call_report(rows: int, numbers: list[str] | None = None) -> Report:
    """An after_call-like batch: call-details rows with per-call keys."""
    spec = make_spec(report="call-details", instance="sim", rolling_date="yesterday", as_of=golden.AS_OF)
    as_of, window = report_window(spec)
    start = window.start.astimezone(UTC)
    numbers = numbers or [f"+97150{i:07d}" for i in range(rows)]
    table = pa.table(
        {
            "instance": ["sim"] * rows,
            "call_id": [f"C{i}" for i in range(rows)],
            "caller_number": numbers,
            "queue_name": [f"Queue {i % 3}" for i in range(rows)],
            "agent_name": [f"Agent {i % 4}" for i in range(rows)],
            "direction": ["inbound"] * rows,
            "duration_s": [30 + i for i in range(rows)],
            "answered_at": pa.array([None] * rows, pa.timestamp("us", tz="UTC")),
            "started_at": pa.array([start + timedelta(minutes=i) for i in range(rows)], pa.timestamp("us", tz="UTC")),
        }
    )
    keys = pa.array([f"sim:call:C{i}" for i in range(rows)])
    return Report(
        spec=spec, zone=spec.zone, window=window, as_of=as_of, horizon=as_of, table=table, key="calls:1", keys=keys
    )


def test_batches_are_at_most_100_inputs_and_the_fake_refuses_more(hubspot):
    report = synthetic(250)
    delivery = delivery_for(upsert_target(hubspot, mapping={"agent_name": "agent_name"}))
    plan = delivery.plan(report)
    assert len(plan.items) == 250 and len(plan.requests) == 3
    assert plan.requests[0]["headers"]["Authorization"] == "Bearer ***" and TOKEN not in str(plan.requests)
    assert hubspot.requests() == [], "a plan sent nothing"
    results = list(delivery.deliver(report))
    assert {r.status for r in results} == {"sent"} and len(records(hubspot)) == 250
    assert [len(s.body["inputs"]) for s in hubspot.requests("/batch/upsert")] == [100, 100, 50]
    refused = requests.post(
        hubspot.url + f"/crm/v3/objects/{OBJECT}/batch/upsert",
        json={"inputs": [{"id": str(i), "idProperty": "ziwo_row_key", "properties": {}} for i in range(101)]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    body = refused.json()
    assert refused.status_code == 400 and body["category"] == "VALIDATION_ERROR" and body["correlationId"]


def synthetic(rows: int) -> Report:
    spec = make_spec(report="agent-performance", instance="sim", rolling_date="yesterday", as_of=golden.AS_OF)
    as_of, window = report_window(spec)
    table = pa.table({"agent_name": [f"Agent {i}" for i in range(rows)]})
    keys = pa.array([f"sim:agent-performance:agent={i}:day" for i in range(rows)])
    return Report(spec=spec, zone=spec.zone, window=window, as_of=as_of, horizon=as_of, table=table, key="k", keys=keys)


# --- tokens and rate limits ------------------------------------------------------------------------


def test_a_token_rotated_mid_run_is_read_again_once_and_the_run_completes(hubspot, warehouse, monkeypatch, caplog):
    def rotate(count):
        if count == 2:  # HubSpot rotated the token; the environment (as a block would) holds the new one
            hubspot.expire(TOKEN)
            hubspot.accept(ROTATED)
            monkeypatch.setenv("HS_ACCESS_TOKEN", ROTATED)

    hubspot.on_request(rotate)
    report = golden.report_of(warehouse)
    with caplog.at_level(logging.DEBUG):
        delivered = deliver_report(
            report, upsert_target(hubspot, batch_size=2), ledger(warehouse), run_id="r1", source="test"
        )
    assert not delivered.failed and len(records(hubspot)) == 9
    statuses = [s.status for s in hubspot.requests("/batch/upsert")]
    assert statuses.count(401) == 1 and statuses.count(200) == 5
    assert {s.authorization for s in hubspot.requests() if s.status == 200} >= {f"Bearer {ROTATED}"}
    shown = caplog.text + str([r.__dict__ for r in list_deliveries(warehouse)])
    assert TOKEN not in shown and ROTATED not in shown


def test_an_expired_token_that_was_not_rotated_fails_each_item_with_a_clear_line(hubspot, warehouse, caplog):
    hubspot.expire(TOKEN)
    report = golden.report_of(warehouse)
    with caplog.at_level(logging.DEBUG):
        delivered = deliver_report(report, upsert_target(hubspot), ledger(warehouse), run_id="r1", source="test")
    assert len(delivered.failed) == 9
    error = delivered.failed[0].error
    assert "HTTP 401" in error and "EXPIRED_AUTHENTICATION" in error and "read again" in error
    assert len(hubspot.requests()) == 2, "one request, sent once more after reading the token again"
    with pytest.raises(Exception) as raised:
        delivered.raise_for_failures()
    assert TOKEN not in str(raised.value) + caplog.text + error


def test_429_secondly_waits_and_retries(hubspot, warehouse):
    hubspot.rate_limit("SECONDLY", times=2)
    delivered = deliver_report(
        golden.report_of(warehouse), upsert_target(hubspot), ledger(warehouse), run_id="r1", source="test"
    )
    assert not delivered.failed and len(records(hubspot)) == 9
    assert [s.status for s in hubspot.requests()] == [429, 429, 200]


def test_a_rolling_ten_second_limit_slows_the_run_but_loses_nothing(hubspot, warehouse, monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_ATTEMPTS", "8")
    # Backoff on the window's scale (0.1 s doubling): with the fixture's 0.01 s, seven retries of one
    # thread could all land inside full 0.3 s windows on a busy machine, and the row failed.
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.1")
    hubspot.limit_rolling(3, seconds=0.3)
    delivered = deliver_report(
        synthetic(5 * 2), upsert_target(hubspot, batch_size=2, mapping={"agent_name": "agent_name"}), ledger(warehouse),
        run_id="r1", source="test",
    )  # fmt: skip
    assert not delivered.failed and len(records(hubspot)) == 10
    assert any(s.status == 429 for s in hubspot.requests())


def test_429_daily_stops_the_run_with_a_clear_message_and_replay_finishes_it(hubspot, warehouse):
    hubspot.rate_limit("DAILY")
    report = golden.report_of(warehouse)
    delivered = deliver_report(
        report, upsert_target(hubspot, batch_size=2), ledger(warehouse), run_id="r1", source="test"
    )
    assert len(delivered.failed) == 9 and records(hubspot) == {}
    assert len(hubspot.requests()) == 1, "the daily limit is not retried, and nothing more is sent"
    assert all("daily API limit" in r.error for r in delivered.failed)
    assert sum(r.error.startswith("not sent:") for r in delivered.failed) == 7
    with pytest.raises(Exception, match="daily API limit"):
        delivered.raise_for_failures()

    hubspot.reset_daily()
    replayed = replay(
        list_deliveries(warehouse, unsent=True), lambda spec: compute_report(warehouse, spec), ledger(warehouse)
    )
    assert not replayed.failed and len(records(hubspot)) == 9


# --- check and options -----------------------------------------------------------------------------


def test_check_is_read_only_and_verifies_the_unique_property(hubspot):
    ok = delivery_for(upsert_target(hubspot)).check()
    assert ok.ok and "exists and is unique" in ok.detail
    missing = delivery_for(upsert_target(hubspot, id_property="nope")).check()
    assert not missing.ok and "HTTP 404" in missing.detail and "hasUniqueValue" in missing.detail
    plain = delivery_for(upsert_target(hubspot, id_property="not_unique")).check()
    assert not plain.ok and "not a unique-value property" in plain.detail
    follow = delivery_for(follow_up_target(hubspot)).check()
    assert follow.ok and "tasks.ziwo_call_key" in follow.detail
    assert {s.method for s in hubspot.requests()} == {"GET"} and records(hubspot) == {}
    hubspot.revoke_all()
    refused = delivery_for(upsert_target(hubspot)).check()
    assert not refused.ok and "INVALID_AUTHENTICATION" in refused.detail and TOKEN not in refused.detail


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"batch_size": 101}, "batch_size"),
        ({"object_type": None}, "object_type"),
        ({"mapping": {"agent.name": "group_name"}}, "mapping"),
        ({"mapping": {"ziwo_row_key": "group_name"}}, "id_property"),
        ({"credentials": "Not A Block"}, "credentials"),
        ({"api_base": "https://api.hubapi.com/crm"}, "api_base"),
    ],
)
def test_bad_options_name_the_field(hubspot, options, field):
    with pytest.raises(DeliveryConfigError, match=field) as refused:
        delivery_for(upsert_target(hubspot, **options))
    assert "\n" not in str(refused.value)


def test_a_mapping_that_does_not_fit_the_report_names_the_property(hubspot, warehouse):
    delivery = delivery_for(upsert_target(hubspot, mapping={"agent_name": "no_such_column"}))
    with pytest.raises(DeliveryConfigError, match=r"mapping\.agent_name: column 'no_such_column'"):
        delivery.plan(golden.report_of(warehouse))


# --- follow-ups ------------------------------------------------------------------------------------


def follow_up_target(fake, **options):
    return {
        "type": "hubspot",
        "name": "hs-follow-up",
        "job": "follow_up",
        "credentials": "env:HS",
        "api_base": fake.url,
        "allow_private_urls": True,
        "on_no_match": "create_contact",
        **options,
    }


def test_follow_ups_find_or_create_the_contact_and_a_rerun_never_makes_a_second(hubspot, warehouse):
    numbers = ["+971500000001", "+971500000002", "+971500000003", ""]
    known = hubspot.add("contacts", {"phone": "+971500000001", "firstname": "Known"})
    mobile = hubspot.add("contacts", {"mobilephone": "+971500000002"})
    report = call_report(4, numbers)
    target = follow_up_target(hubspot, body="Missed in {queue_name}, {duration_s} s")
    first = deliver_report(report, target, ledger(warehouse), run_id="r1", source="test")
    assert not first.failed
    tasks = hubspot.by("tasks", "ziwo_call_key")
    assert sorted(tasks) == ["sim:call:C0", "sim:call:C1", "sim:call:C2"]
    assert tasks["sim:call:C0"]["hs_task_subject"] == "Call back +971500000001 (Queue 0)"
    assert tasks["sim:call:C1"]["hs_task_body"] == "Missed in Queue 1, 31 s"
    contacts = hubspot.records("contacts")
    created = [i for i, c in contacts.items() if c.get("phone") == "+971500000003"]
    assert len(contacts) == 3 and len(created) == 1
    linked = {(t, c) for (_, t, _, c, type_id) in hubspot.associations if type_id == 204}
    ids = {key: task["id"] for key, task in tasks.items()}
    assert linked == {(ids["sim:call:C0"], known), (ids["sim:call:C1"], mobile), (ids["sim:call:C2"], created[0])}
    by_key = {r.key: r for r in first.results}
    assert by_key["sim:call:C3"].ref.startswith("skipped") and "new contact" in by_key["sim:call:C2"].ref

    again = deliver_report(report, target, ledger(warehouse), run_id="r2", source="test")
    assert not again.failed
    assert hubspot.by("tasks", "ziwo_call_key").keys() == tasks.keys() and len(hubspot.records("tasks")) == 3
    assert len(hubspot.records("contacts")) == 3 and len(hubspot.associations) == 3
    assert all("updated" in r.ref for r in again.results if not r.ref.startswith("skipped"))


def test_a_number_typed_any_way_is_found_and_another_countrys_is_not(hubspot, warehouse):
    """HubSpot's searchable calculated numbers (no country code, no formatting) find a contact typed
    `050 000 0001` for a caller on +971500000001; a contact in another country with the same
    national digits is found by that search too, and passed over."""
    elsewhere = hubspot.add("contacts", {"phone": "+44 500 000 001"})
    typed = hubspot.add("contacts", {"mobilephone": "050 000 0001"})
    report = call_report(1, ["+971500000001"])
    delivered = deliver_report(report, follow_up_target(hubspot), ledger(warehouse), run_id="r1", source="test")
    assert not delivered.failed and len(hubspot.records("contacts")) == 2, "no contact created"
    assert {(c, type_id) for (_, _, _, c, type_id) in hubspot.associations} == {(typed, 204)}
    assert elsewhere != typed


def test_a_call_engagement_with_skip_when_no_contact_matches(hubspot, warehouse):
    contact = hubspot.add("contacts", {"phone": "+971500000001"})
    report = call_report(2, ["+971500000001", "+971500000009"])
    target = follow_up_target(hubspot, follow_up="call", on_no_match="skip", mapping={"hs_call_body": {"const": "x"}})
    delivered = deliver_report(report, target, ledger(warehouse), run_id="r1", source="test")
    assert not delivered.failed
    [call] = hubspot.records("calls").values()
    assert call["hs_call_direction"] == "INBOUND" and call["hs_call_status"] == "NO_ANSWER"
    assert call["hs_call_duration"] == "30000" and call["hs_call_body"] == "x"
    assert {(a[0], a[3], a[4]) for a in hubspot.associations} == {("calls", contact, 194)}
    assert len(hubspot.records("contacts")) == 1
    plan = delivery_for(target).plan(report)
    assert [r["method"] for r in plan.requests] == ["POST", "POST", "PUT"]
    assert "/crm/v3/objects/contacts/search" in plan.requests[0]["url"]


def test_follow_up_needs_the_caller_number_column(hubspot, warehouse):
    with pytest.raises(DeliveryConfigError, match="caller_number"):
        delivery_for(follow_up_target(hubspot)).plan(golden.report_of(warehouse))


def test_an_after_call_workflow_creates_each_follow_up_once(simulator, hubspot, tmp_path):
    sim = simulator(days=1, calls_per_day=80)
    path = tmp_path / "ziwo.duckdb"
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
    workflow = parse_workflow(
        {
            "name": "hs-follow-up",
            "trigger": {"after_call": {"on_change": "once"}},
            "operation": {"call": {}},
            "conditions": "caller_number is not empty",
            "deliveries": [follow_up_target(hubspot, concurrency=1)],
        }
    )
    run_workflow(workflow, path, run_id="r1", source="test")  # a fresh workflow starts at the current run
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
    hubspot.on_request(lambda n: hubspot.rate_limit("DAILY") if n == 12 else None)
    stopped = run_workflow(workflow, path, run_id="r2", source="test")
    assert stopped.failed and stopped.advanced_to is None and stopped.kept > 2
    partly = len(hubspot.records("tasks"))
    assert 0 < partly < stopped.kept

    hubspot.reset_daily()
    finished = run_workflow(workflow, path, run_id="r3", source="test")
    assert not finished.failed and finished.advanced_to == 2 and finished.kept == stopped.kept
    tasks = hubspot.by("tasks", "ziwo_call_key")
    assert len(tasks) == len(hubspot.records("tasks")) == stopped.kept, "one task per call, none twice"
    assert all(key.startswith("sim:call:") for key in tasks)
    assert len({c["phone"] for c in hubspot.records("contacts").values()}) == len(hubspot.records("contacts"))
    third = run_workflow(workflow, path, run_id="r4", source="test")
    assert third.seen == 0 and len(hubspot.records("tasks")) == stopped.kept


def test_example_workflows_validate():
    from ziwo_reports.workflows.model import load_workflow

    for name in ("hubspot-agent-metrics", "hubspot-missed-call-follow-up"):
        workflow = load_workflow(f"workflows/examples/{name}.yaml")
        assert [t.type for t in workflow.targets()] == ["hubspot"]


def test_no_datetime_leaks_as_python_repr(hubspot, warehouse):
    report = call_report(1)
    delivery = delivery_for(follow_up_target(hubspot))
    [item] = delivery.plan(report).items
    assert item.sample[0]["hs_timestamp"].endswith("Z") and "datetime" not in str(item.sample)
    assert isinstance(datetime.fromisoformat(item.sample[0]["hs_timestamp"].replace("Z", "+00:00")), datetime)


def test_a_token_in_a_block_is_obfuscated_and_read_again_from_the_block_after_a_rotation(
    prefect_api, hubspot, warehouse
):
    """The block as the Prefect UI shows it (token obfuscated), and a rotation mid-run: the new
    token saved in the block is what the delivery reads again on the 401."""
    from prefect.client.orchestration import get_client

    from ziwo_reports.connectors.hubspot.block import HubSpotCredentials

    HubSpotCredentials(access_token=TOKEN).save("hs-creds", overwrite=True)
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(
            "hs-creds", block_type_slug="hubspot-credentials", include_secrets=False
        )
        assert TOKEN not in str(document.data)

    def rotate(count):
        if count == 1:
            hubspot.expire(TOKEN)
            hubspot.accept(ROTATED)
            HubSpotCredentials(access_token=ROTATED).save("hs-creds", overwrite=True)

    hubspot.on_request(rotate)
    target = upsert_target(hubspot, credentials="hs-creds")
    delivered = deliver_report(golden.report_of(warehouse), target, ledger(warehouse), run_id="r1", source="test")
    assert not delivered.failed and len(records(hubspot)) == 9
    assert [s.status for s in hubspot.requests()] == [401, 200]
