"""The delivery contract, run against every delivery type (tests/contracts/harnesses.py): validate
names field and value; check and plan write nothing; deliver twice leaves the target as once; a
failure is in the ledger and `replay` completes it; no secret in the ledger, the logs or errors."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import orjson
import pytest

from tests import golden
from tests.contracts.harnesses import HARNESSES
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for, delivery_types, parse_target
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.redaction import redact
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec
from ziwo_reports.warehouse import open_warehouse

TYPES = delivery_types()
#: A harness per type, or per database of a type (`sql:postgresql`): the contract runs against each.
CASES = sorted(HARNESSES)


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ledger.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def test_every_delivery_type_has_a_harness():
    assert set(TYPES) == {case.split(":")[0] for case in HARNESSES}, "a type without a harness skips the contract suite"


@pytest.mark.parametrize("kind", CASES)
def test_validate_names_the_field_and_the_value(kind):
    harness = HARNESSES[kind]
    with pytest.raises(DeliveryConfigError) as refused:
        delivery_for(harness.bad_options)
    message = str(refused.value)
    assert harness.bad_field in message and "\n" not in message
    with pytest.raises(DeliveryConfigError, match="delivery type 'carrier-pigeon' is not one of"):
        parse_target({"type": "carrier-pigeon"})


@pytest.mark.parametrize("kind", CASES)
def test_check_and_plan_write_nothing(kind, tmp_path, warehouse):
    harness = HARNESSES[kind]
    delivery = delivery_for(harness.options(tmp_path))
    before, held = sorted(tmp_path.rglob("*")), harness.observe(tmp_path)
    assert delivery.check().ok
    report = golden.report_of(warehouse)
    plan, again = delivery.plan(report), delivery.plan(report)
    assert sorted(tmp_path.rglob("*")) == before, "a dry run wrote something"
    assert harness.observe(tmp_path) == held, "check or a dry run reached the target"
    assert plan.items and [i.key for i in plan.items] == [i.key for i in again.items], "keys stable across plans"
    assert [i.payload_hash for i in plan.items] == [i.payload_hash for i in again.items]
    # each item carries the whole report (a file) or the items share its rows (chunks)
    rows = [item.rows for item in plan.items]
    assert set(rows) == {report.table.num_rows} or sum(rows) == report.table.num_rows
    assert all(len(item.sample) <= 5 for item in plan.items)

    harness.break_target(tmp_path)
    assert not delivery.check().ok, "check sees a target that cannot take the delivery"
    harness.mend_target(tmp_path)


@pytest.mark.parametrize("kind", CASES)
def test_delivering_twice_leaves_the_target_as_once(kind, tmp_path, warehouse):
    harness = HARNESSES[kind]
    report = golden.report_of(warehouse)
    first = deliver_report(report, harness.options(tmp_path), ledger(warehouse), run_id="run-1", source="contract")
    once = harness.observe(tmp_path)
    second = deliver_report(report, harness.options(tmp_path), ledger(warehouse), run_id="run-2", source="contract")
    assert once and harness.observe(tmp_path) == once, "a rerun of the same period changed or added to the target"
    assert not first.failed and not second.failed
    # the same items; in any order (requests sent in parallel complete in any order)
    assert sorted(r.key for r in first.results) == sorted(r.key for r in second.results)
    rows = list_deliveries(warehouse)
    assert {(r.run_id, r.status, r.attempts) for r in rows} == {("run-1", "sent", 1), ("run-2", "sent", 1)}
    assert {r.chunk_key for r in rows if r.run_id == "run-1"} == {r.chunk_key for r in rows if r.run_id == "run-2"}


@pytest.mark.parametrize("kind", CASES)
def test_a_failure_is_in_the_ledger_and_replay_completes_it(kind, tmp_path, warehouse):
    harness = HARNESSES[kind]
    report = golden.report_of(warehouse)
    harness.break_target(tmp_path)
    failed = deliver_report(report, harness.options(tmp_path), ledger(warehouse), run_id="run-1", source="contract")
    assert failed.failed and len(failed.failed) == len(failed.plan.items)
    rows = list_deliveries(warehouse, unsent=True)
    assert rows and all(r.status == "failed" and r.attempts == 1 and r.last_error for r in rows)
    harness.mend_target(tmp_path)

    replayed = replay(rows, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed
    assert all(r.status == "sent" and r.attempts == 2 for r in list_deliveries(warehouse))
    assert list_deliveries(warehouse, unsent=True) == [], "nothing left to replay"
    delivered = harness.observe(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    deliver_report(report, harness.options(fresh), ledger(warehouse), run_id="run-2", source="contract")
    assert delivered == harness.observe(fresh), "replay delivered what a first delivery delivers"


@pytest.mark.parametrize("kind", CASES)
def test_no_secret_in_the_ledger_the_logs_or_the_errors(kind, tmp_path, warehouse, caplog):
    harness = HARNESSES[kind]
    report = golden.report_of(warehouse)
    errors = []
    with caplog.at_level(logging.DEBUG):
        harness.break_target(tmp_path)
        failed = deliver_report(report, harness.options(tmp_path), ledger(warehouse), run_id="r", source="contract")
        try:
            failed.raise_for_failures()
        except Exception as error:  # the one line a person sees
            errors.append(str(error))
        harness.mend_target(tmp_path)
        deliver_report(report, harness.options(tmp_path), ledger(warehouse), run_id="r2", source="contract")
    assert errors and errors[0].startswith(f"{kind.split(':')[0]} delivery")
    shown = [caplog.text, *errors]
    for row in list_deliveries(warehouse):
        shown += [str(value) for value in row.__dict__.values()]
        assert redact(row.options) == row.options and redact(row.last_error or "") == (row.last_error or "")
    for secret in harness.secrets:
        assert not any(secret in text for text in shown), "a secret showed"


def test_the_ledger_keeps_the_spec_with_its_now_pinned(tmp_path, warehouse):
    report = golden.report_of(warehouse, interval="none")
    deliver_report(report, HARNESSES["file"].options(tmp_path), ledger(warehouse), run_id="r", source="contract")
    (row, *_) = list_deliveries(warehouse)
    spec = make_spec(**orjson.loads(row.spec))
    assert spec.as_of == golden.AS_OF and compute_report(warehouse, spec).window == report.window
    assert Path(row.target).name == Path(row.target_ref).name
