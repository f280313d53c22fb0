"""The `after_call` trigger's data side: each completed call reaches a workflow once, across repeated
ingests, reruns and a crash between delivery and advance, against the simulator over HTTP, a real
warehouse and a real loopback webhook receiver."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pyarrow as pa
import pytest

from tests.conftest import run_ingest
from ziwo_reports.deliveries import deliver_report, list_deliveries
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec, row_keys
from ziwo_reports.workflows.after_call import advance, call_keys, calls_since, cursor_of

ZONE = "Asia/Dubai"
PATH = "/hooks/calls"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")


def batch_of(warehouse, workflow="follow-up", on_change="once", **options):
    return calls_since(warehouse, workflow, on_change=on_change, instance="sim", timezone=ZONE, **options)


def completed(warehouse) -> set[str]:
    rows = warehouse.con.execute("SELECT call_id FROM calls WHERE instance = 'sim' AND ended_at IS NOT NULL")
    return {call_id for (call_id,) in rows.fetchall()}


def deliver(batch, receiver, warehouse, run_id="run-1"):
    target = {"type": "webhook", "name": "hook", "url": receiver.url(PATH), "allow_private_urls": True, "mode": "row"}
    delivered = deliver_report(
        batch.report, target, lambda: contextlib.nullcontext(warehouse), run_id=run_id, source="after_call"
    )
    delivered.raise_for_failures()
    return delivered


def test_every_call_of_a_day_reaches_the_workflow_once_across_ingests(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=300)
    run_ingest(sim, warehouse)
    batch = batch_of(warehouse, since_run=0)
    calls = batch.table["call_id"].to_pylist()
    assert sorted(calls) == sorted(completed(warehouse)) and len(calls) == len(set(calls)) > 0
    assert (batch.after_run, batch.up_to_run) == (0, 1)
    advance(warehouse, "follow-up", batch.up_to_run)
    assert cursor_of(warehouse, "follow-up") == 1

    run_ingest(sim, warehouse)  # nothing changed in Ziwo: nothing new for the workflow
    again = batch_of(warehouse)
    assert len(again) == 0 and again.up_to_run == 2
    advance(warehouse, "follow-up", again.up_to_run)

    sim.store.set_now(sim.store.world.now + timedelta(hours=3))  # more calls end
    run_ingest(sim, warehouse)
    later = batch_of(warehouse)
    new = set(later.table["call_id"].to_pylist())
    assert new and not new & set(calls)
    assert set(calls) | new == completed(warehouse)


def test_the_batch_is_the_call_details_report_of_its_calls(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=150)
    run_ingest(sim, warehouse)
    batch = batch_of(warehouse, since_run=0)
    spec = make_spec(
        report="call-details",
        instance="sim",
        timezone=ZONE,
        rolling_date="custom",
        start=sim.first_day,
        end=sim.last_day,
    )
    details = compute_report(warehouse, spec, sim.store.world.now).table
    assert batch.table.schema == details.schema
    # the same fields for each call (the batch's period is its own window, the report's is its own)
    fields = [name for name in details.column_names if name not in ("period_start", "period_end")]
    wanted = pa.array(batch.table["call_id"].to_pylist())
    same = details.filter(pa.compute.is_in(details["call_id"], value_set=wanted)).select(fields)
    assert same.sort_by("call_id").to_pylist() == batch.table.select(fields).sort_by("call_id").to_pylist()
    keys = row_keys(batch.report).to_pylist()
    assert keys == [f"sim:call:{call_id}" for call_id in batch.table["call_id"].to_pylist()]


def test_a_fresh_workflow_starts_at_the_current_run(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=100)
    run_ingest(sim, warehouse)
    fresh = batch_of(warehouse, "new-one")
    assert len(fresh) == 0 and fresh.up_to_run == 1 and fresh.table.num_rows == 0
    assert fresh.table.schema == batch_of(warehouse, "other", since_run=0).table.schema
    advance(warehouse, "new-one", fresh.up_to_run)
    sim.store.set_now(sim.store.world.now + timedelta(hours=2))
    run_ingest(sim, warehouse)
    assert len(batch_of(warehouse, "new-one")) > 0


def ended_from(warehouse, moment) -> set[str]:
    rows = warehouse.con.execute("SELECT call_id FROM calls WHERE instance = 'sim' AND ended_at >= ?", [moment])
    return {call_id for (call_id,) in rows.fetchall()}


def test_a_deployed_workflow_first_takes_the_calls_that_ended_since_it_was_deployed(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=300)
    deployed_at = sim.store.world.now - timedelta(hours=4)
    run_ingest(sim, warehouse)
    first = batch_of(warehouse, "deployed", ended_from=deployed_at)
    expected = ended_from(warehouse, deployed_at)
    assert 0 < len(expected) < len(completed(warehouse))
    assert set(first.table["call_id"].to_pylist()) == expected and first.up_to_run == 1
    assert all(ended >= deployed_at for ended in first.table["ended_at"].to_pylist())
    advance(warehouse, "deployed", first.up_to_run)
    # once it has a cursor, `ended_from` no longer matters: the next batch is the next runs' calls
    sim.store.set_now(sim.store.world.now + timedelta(hours=2))
    run_ingest(sim, warehouse)
    later = batch_of(warehouse, "deployed", ended_from=deployed_at)
    assert later.after_run == 1 and not set(later.table["call_id"].to_pylist()) & expected


def test_a_delayed_send_takes_only_the_calls_of_its_trigger(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=300)
    run_ingest(sim, warehouse)
    advance(warehouse, "delayed", 1)
    sim.store.set_now(sim.store.world.now + timedelta(hours=2))
    run_ingest(sim, warehouse)  # run 2: the trigger of the delayed send
    of_trigger = {
        c for (c,) in warehouse.con.execute("SELECT call_id FROM calls WHERE first_loaded_run = 2").fetchall()
    }
    sim.store.set_now(sim.store.world.now + timedelta(hours=2))
    run_ingest(sim, warehouse)  # run 3: came while the send waited
    capped = batch_of(warehouse, "delayed", up_to_run=2)
    assert capped.up_to_run == 2 and of_trigger
    assert set(capped.table["call_id"].to_pylist()) == {c for c in of_trigger if c in completed(warehouse)}
    advance(warehouse, "delayed", capped.up_to_run)
    rest = batch_of(warehouse, "delayed")
    assert rest.after_run == 2 and rest.up_to_run == 3 and len(rest) > 0
    with pytest.raises(ValueError, match="up_to_run -1 must be 0 or more"):
        batch_of(warehouse, "delayed", up_to_run=-1)


def test_a_crash_between_delivery_and_advance_sends_nothing_new(simulator, warehouse, receiver):
    sim = simulator(days=1, calls_per_day=120)
    run_ingest(sim, warehouse)
    first = batch_of(warehouse, since_run=0)
    deliver(first, receiver, warehouse)
    events = receiver.events(PATH)
    assert len(events) == len(first) > 0
    # ... the process dies here: no advance. The next run, after another ingest, selects the same calls.
    run_ingest(sim, warehouse)
    rerun = batch_of(warehouse, since_run=0)
    assert rerun.after_run == first.after_run
    assert call_keys(rerun, "once").to_pylist() == call_keys(first, "once").to_pylist()
    deliver(rerun, receiver, warehouse, run_id="run-2")
    assert len(receiver.requests(PATH)) == 2 * len(first)  # sent again, under the same ids
    assert receiver.events(PATH).keys() == events.keys()  # the idempotent receiver holds nothing new
    held = {event["data"]["row_key"] for event in receiver.events(PATH).values()}
    assert held == {f"sim:call:{call_id}" for call_id in first.table["call_id"].to_pylist()}
    advance(warehouse, "follow-up", rerun.up_to_run)
    assert len(batch_of(warehouse)) == 0
    ledger = list_deliveries(warehouse, limit=10_000)
    assert {row.status for row in ledger} == {"sent"} and len(ledger) == 2 * len(first)


def test_on_change_again_sees_each_changed_call_once_per_change(simulator, warehouse, receiver):
    sim = simulator(days=1, calls_per_day=200)
    run_ingest(sim, warehouse)
    for workflow in ("once", "again"):
        advance(warehouse, workflow, batch_of(warehouse, workflow, on_change=workflow).up_to_run)
    day = sim.store.day(sim.last_day)
    changed = [day[5].call_id, day[40].call_id]
    for call_id in changed:
        sim.store.change_call(call_id, disposition="Callback requested")
    run = run_ingest(sim, warehouse, lookback=timedelta(hours=24))
    assert run.totals.updated == 2

    assert len(batch_of(warehouse, "once", on_change="once")) == 0  # once: already handled
    batch = batch_of(warehouse, "again", on_change="again")
    assert sorted(batch.table["call_id"].to_pylist()) == sorted(changed)
    assert set(batch.table["disposition"].to_pylist()) == {"Callback requested"}
    keys = call_keys(batch, "again").to_pylist()
    version = batch.up_to_run
    assert sorted(keys) == sorted(f"sim:call:{call_id}@{version}" for call_id in changed)
    deliver(batch, receiver, warehouse)
    advance(warehouse, "again", batch.up_to_run)
    assert len(receiver.events(PATH)) == 2

    run_ingest(sim, warehouse, lookback=timedelta(hours=24))  # no change: no event
    assert len(batch_of(warehouse, "again", on_change="again")) == 0
    sim.store.change_call(changed[0], disposition="Resolved")  # a second change: a second event
    run_ingest(sim, warehouse, lookback=timedelta(hours=24))
    second = batch_of(warehouse, "again", on_change="again")
    assert second.table["call_id"].to_pylist() == [changed[0]]
    deliver(second, receiver, warehouse, run_id="run-2")
    events = receiver.events(PATH)
    assert len(events) == 3
    assert sorted(event["data"]["row"]["disposition"] for event in events.values()) == [
        "Callback requested",
        "Callback requested",
        "Resolved",
    ]


def test_a_run_still_running_is_not_read(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=100)
    run_ingest(sim, warehouse)
    advance(warehouse, "follow-up", batch_of(warehouse).up_to_run)
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    run_ingest(sim, warehouse)
    # the second run as a reader would meet it mid-ingest: its calls are in, its status not yet set
    warehouse.con.execute("UPDATE ingest_runs SET status = 'running', finished_at = NULL WHERE run_id = 2")
    waiting = batch_of(warehouse)
    assert len(waiting) == 0 and waiting.up_to_run == 1
    advance(warehouse, "follow-up", waiting.up_to_run)
    warehouse.con.execute("UPDATE ingest_runs SET status = 'succeeded', finished_at = now() WHERE run_id = 2")
    arrived = batch_of(warehouse)
    loaded = warehouse.con.execute("SELECT count(*) FROM calls WHERE first_loaded_run = 2 AND ended_at IS NOT NULL")
    assert len(arrived) == loaded.fetchone()[0] > 0 and arrived.up_to_run == 2


def test_a_finished_run_after_a_running_one_waits_for_it(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=100)
    other = simulator(days=1, calls_per_day=100, seed=7)
    run_ingest(sim, warehouse)
    advance(
        warehouse,
        "everything",
        calls_since(warehouse, "everything", on_change="once", instance=None, timezone=ZONE).up_to_run,
    )
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    run_ingest(sim, warehouse)  # run 2
    run_ingest(other, warehouse, instance="other")  # run 3
    warehouse.con.execute("UPDATE ingest_runs SET status = 'running', finished_at = NULL WHERE run_id = 2")
    batch = calls_since(warehouse, "everything", on_change="once", instance=None, timezone=ZONE)
    assert batch.up_to_run == 1 and len(batch) == 0  # run 3 is done, but run 2 before it is not


def test_two_workflows_have_independent_cursors(simulator, warehouse):
    sim = simulator(days=1, calls_per_day=100)
    run_ingest(sim, warehouse)
    a = batch_of(warehouse, "a", since_run=0)
    b = batch_of(warehouse, "b", since_run=0)
    assert a.table["call_id"].to_pylist() == b.table["call_id"].to_pylist() and len(a) > 0
    advance(warehouse, "a", a.up_to_run)
    assert len(batch_of(warehouse, "a")) == 0
    assert len(batch_of(warehouse, "b", since_run=0)) == len(b)  # b, not advanced, still sees them
    assert (cursor_of(warehouse, "a"), cursor_of(warehouse, "b")) == (1, None)
    advance(warehouse, "a", 0)  # a stale advance never moves a cursor back
    assert cursor_of(warehouse, "a") == 1


def test_bad_arguments_name_the_value(warehouse):
    with pytest.raises(ValueError, match="on_change 'sometimes'"):
        calls_since(warehouse, "x", on_change="sometimes", instance=None, timezone=ZONE)
    with pytest.raises(ValueError, match="timezone 'Mars/Base'"):
        calls_since(warehouse, "x", on_change="once", instance=None, timezone="Mars/Base", since_run=0)
