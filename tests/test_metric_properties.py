"""Properties of the metrics over simulated data: additive metrics add up over intervals, and
agent rows add up to the ungrouped totals, whatever the zone, window and settings."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, run_ingest
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec
from ziwo_reports.warehouse import open_warehouse

ADDITIVE = {
    "agent-performance": (
        "calls_offered",
        "calls_answered",
        "calls_missed",
        "abandoned_while_ringing",
        "calls_unanswered",
        "outbound_calls",
        "calls_handled",
        "total_talk_time_s",
        "total_hold_time_s",
        "calls_put_on_hold",
        "total_wrap_up_time_s",
        "wrap_up_estimated_legs",
        "transfers_out",
        "fcr_eligible",
        "fcr_resolved",
        "fcr_pending",
        "csat_responses",
    ),
    "queue-performance": (
        "calls_offered",
        "calls_answered",
        "calls_abandoned",
        "short_abandoned",
        "abandoned_while_ringing",
        "missed_legs",
        "total_talk_time_s",
        "total_hold_time_s",
        "total_wrap_up_time_s",
        "transfers_out",
        "fcr_eligible",
        "fcr_resolved",
        "csat_responses",
    ),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    config = SimConfig(now=NOW, days=4, calls_per_day=500, timezone="America/New_York")
    with Simulator(config) as sim, open_warehouse(tmp_path_factory.mktemp("props") / "w.duckdb") as wh:
        run_ingest(sim, wh)
        yield wh


def totals(rows, columns, key=lambda row: row["group_id"]):
    summed: dict = {}
    for row in rows:
        bucket = summed.setdefault(key(row), Counter())
        for column in columns:
            bucket[column] += row[column]
    return summed


common = {
    "zone": st.sampled_from(["UTC-12:00", "UTC+14:00", "Asia/Kolkata", "America/New_York", "Asia/Dubai"]),
    "days_back": st.integers(1, 2),
    "length": st.integers(1, 3),
    "attribute_by": st.sampled_from(["start", "end"]),
}


def spec(report, zone, days_back, length, attribute_by, **extra):
    end = NOW.date() - timedelta(days=days_back)
    return make_spec(
        report=report,
        timezone=zone,
        rolling_date="custom",
        start=end - timedelta(days=length - 1),
        end=end,
        as_of=NOW,
        settings={"attribute_by": attribute_by},
        **extra,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    report=st.sampled_from(["agent-performance", "queue-performance"]),
    interval=st.sampled_from(["day", "hour", "30m"]),
    **common,
)
def test_additive_metrics_add_up_over_intervals(warehouse, report, interval, zone, days_back, length, attribute_by):
    whole = compute_report(warehouse, spec(report, zone, days_back, length, attribute_by)).table.to_pylist()
    split = compute_report(
        warehouse, spec(report, zone, days_back, length, attribute_by, interval=interval)
    ).table.to_pylist()
    columns = ADDITIVE[report]
    assert totals(split, columns) == totals(whole, columns)
    assert whole, "the window holds calls"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(group_by=st.sampled_from(["agent", "team", "queue"]), **common)
def test_groups_reconcile_with_the_ungrouped_totals(warehouse, group_by, zone, days_back, length, attribute_by):
    columns = ADDITIVE["agent-performance"]
    grouped = compute_report(
        warehouse, spec("agent-performance", zone, days_back, length, attribute_by, group_by=group_by)
    )
    ungrouped = compute_report(
        warehouse, spec("agent-performance", zone, days_back, length, attribute_by, group_by="none")
    )
    everything = lambda row: "all"  # noqa: E731
    assert totals(grouped.table.to_pylist(), columns, everything) == totals(
        ungrouped.table.to_pylist(), columns, everything
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
def test_every_ring_is_answered_missed_or_abandoned_while_ringing(warehouse, zone, days_back, length, attribute_by):
    """Each inbound leg that rang an agent is answered, the agent's miss, or the caller's hang-up
    while it rang: never two of them, never none."""
    rows = compute_report(warehouse, spec("agent-performance", zone, days_back, length, attribute_by)).table
    rows = rows.to_pylist()
    for row in rows:
        assert row["calls_offered"] == row["calls_answered"] + row["calls_missed"] + row["abandoned_while_ringing"]
        assert row["calls_unanswered"] == row["calls_missed"] + row["abandoned_while_ringing"]
    assert sum(row["abandoned_while_ringing"] for row in rows) > 0 and sum(row["calls_missed"] for row in rows) > 0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**common)
def test_queue_columns_count_visits(warehouse, zone, days_back, length, attribute_by):
    """Every count of the queue report is one of visits: none exceeds the visits offered, the answered
    ones carry the handle time, and the abandoned ones include those abandoned while ringing."""
    rows = compute_report(warehouse, spec("queue-performance", zone, days_back, length, attribute_by)).table
    for row in rows.to_pylist():
        assert row["calls_answered"] + row["calls_abandoned"] <= row["calls_offered"]
        assert row["abandoned_while_ringing"] <= row["calls_abandoned"]
        assert row["transfers_out"] <= row["calls_answered"] and row["calls_put_on_hold"] <= row["calls_answered"]
        assert row["fcr_eligible"] <= row["calls_answered"] and row["csat_responses"] <= row["calls_answered"]
        if row["calls_answered"]:
            handle = row["total_talk_time_s"] + row["total_hold_time_s"] + row["total_wrap_up_time_s"]
            assert row["avg_handle_time_s"] == pytest.approx(handle / row["calls_answered"])
