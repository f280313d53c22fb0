"""Real reports for the file connector's tests (tests/test_file_*.py), computed once per test run.

`simulator_reports()`: the Ziwo simulator served on loopback, ingested into a warehouse by the real
ingest, and the reports computed from it by the real SQL. `hostile_reports()`: the golden day
(tests/golden.py) with an agent and tags named like spreadsheet formulas."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from tests import golden
from tests.conftest import NOW, run_ingest
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import Report, make_spec
from ziwo_reports.warehouse import open_warehouse

#: Text a spreadsheet would run: the classic DDE payload, and a formula in a tag.
EVIL_NAME = "=cmd|' /C calc'!A0"
EVIL_TAG = '=HYPERLINK("http://evil.test","click")'
AT_TAG = "@SUM(1+1)"


def _spec(**values: Any) -> Any:
    return make_spec(**{"timezone": "Asia/Dubai", "as_of": NOW, "rolling_date": "last_7_days", **values})


@functools.cache
def simulator_reports() -> dict[str, Report]:
    """agent-performance (per agent, and per agent per day), queue-performance and call-details
    over the simulator's days."""
    sim = Simulator(SimConfig(now=NOW, days=3, calls_per_day=150, slow_seconds=0.05, retry_after=0)).start()
    try:
        with open_warehouse(":memory:") as warehouse:
            run_ingest(sim, warehouse)
            specs = {
                "agent-performance": _spec(report="agent-performance", instance="sim"),
                "agent-performance-daily": _spec(report="agent-performance", instance="sim", interval="day"),
                "queue-performance": _spec(report="queue-performance", instance="sim"),
                "call-details": _spec(report="call-details", instance="sim"),
            }
            return {name: compute_report(warehouse, spec) for name, spec in specs.items()}
    finally:
        sim.stop()


@functools.cache
def hostile_reports() -> dict[str, Report]:
    """The golden day, with agent 2 named EVIL_NAME, leg c1 tagged EVIL_TAG and c5 AT_TAG; also an
    empty window, call details in a UTC offset zone, and queue totals per hour."""
    legs = [dict(leg) for leg in golden.LEGS]
    for leg in legs:
        if leg["callID"] == "c1":
            leg["tags"] = ["vip", EVIL_TAG]
        if leg["callID"] == "c5":
            leg["tags"] = [AT_TAG]
    with open_warehouse(":memory:") as warehouse:
        golden.load(warehouse, legs=legs)
        warehouse.con.execute(
            "UPDATE agents SET first_name = ?, last_name = '' WHERE instance = ? AND agent_id = 2",
            [EVIL_NAME, golden.INSTANCE],
        )
        day = {"rolling_date": "custom", "start": golden.DAY, "end": golden.DAY, "as_of": golden.AS_OF}
        reports = {
            report: compute_report(warehouse, _spec(report=report, instance=golden.INSTANCE, **day))
            for report in ("agent-performance", "queue-performance", "call-details")
        }
        later = {**day, "start": golden.DAY + timedelta(days=20), "end": golden.DAY + timedelta(days=20)}
        reports["empty"] = compute_report(
            warehouse, _spec(report="agent-performance", instance=golden.INSTANCE, **later)
        )
        offset = {**day, "timezone": "UTC-12:00"}
        reports["offset-calls"] = compute_report(
            warehouse, _spec(report="call-details", instance=golden.INSTANCE, **offset)
        )
        reports["queue-totals-hourly"] = compute_report(
            warehouse,
            _spec(report="queue-performance", group_by="none", interval="hour", instance=golden.INSTANCE, **day),
        )
        return reports
