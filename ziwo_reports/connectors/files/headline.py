"""Headline totals of a report and the series its chart draws, recomputed from the rows with the
formulas of docs/metrics.md (ratios of sums, never averages of averages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ziwo_reports.metric_definitions import Kind
from ziwo_reports.report_model import Report

#: At most this many groups in the chart (the busiest), so it stays readable.
CHART_GROUPS = 50


@dataclass(frozen=True)
class Total:
    """A headline figure. `name` is its field in workflow conditions (`totals.<name>`): the name of the
    report column it sums up where there is one, in that column's unit (`field_value`)."""

    name: str
    label: str
    value: float | int | None  # durations in seconds, rates 0..1 as their columns are
    kind: Kind

    @property
    def field_value(self) -> float | int | None:
        """The value as conditions see it: the column's unit (rates are fractions 0..1, like every ratio)."""
        return self.value


def total_fields(report: Report) -> dict[str, float | int | None]:
    """The headline totals as condition fields: `{"totals.<name>": value}`."""
    return {f"totals.{total.name}": total.field_value for total in totals(report)}


@dataclass(frozen=True)
class Series:
    """Calls handled and AHT per category: per period when the report has intervals, else per group."""

    category: str  # what the categories are: 'period' or the group
    categories: list[str]
    handled: list[int]
    aht_s: list[float | None]


def _sum(table: pa.Table, column: str) -> float:
    if column not in table.column_names:
        return 0
    return pc.sum(table[column]).as_py() or 0


def _handled_legs(legs: pa.Table) -> pa.Table:
    """The call-details legs an agent handled: it was theirs and it was answered (the SQL's `handled`)."""
    return legs.filter(pc.and_(pc.is_valid(legs["agent_id"]), pc.is_valid(legs["answered_at"])))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def totals(report: Report) -> list[Total]:
    """The report's headline figures."""
    t = report.table
    if report.spec.report == "call-details":
        handled = _handled_legs(t)
        handle = _sum(handled, "talk_time_s") + _sum(handled, "hold_time_s") + _sum(handled, "wrap_up_time_s")
        scores = t.filter(pc.is_valid(t["survey_score"]))
        return [
            Total("legs", "Legs", t.num_rows, "count"),
            Total("legs_handled", "Legs handled by an agent", handled.num_rows, "count"),
            Total("transferred_legs", "Transferred legs", pc.sum(t["transferred"]).as_py() or 0, "count"),
            Total("total_talk_time_s", "Total talk time", _sum(t, "talk_time_s"), "duration"),
            Total("avg_handle_time_s", "Average handle time (AHT)", _ratio(handle, handled.num_rows), "duration"),
            Total("survey_responses", "Survey responses", scores.num_rows, "count"),
            Total(
                "avg_survey_score",
                "Average survey score",
                _ratio(_sum(scores, "survey_score"), scores.num_rows),
                "score",
            ),
        ]
    # the queue report counts visits: an answered visit is its handled unit
    queue = report.spec.report == "queue-performance"
    handled = _sum(t, "calls_answered" if queue else "calls_handled")
    handle_time = _sum(t, "total_talk_time_s") + _sum(t, "total_hold_time_s") + _sum(t, "total_wrap_up_time_s")
    responses = _sum(t, "csat_responses")
    csat_points = pc.sum(pc.multiply(t["csat_avg"], t["csat_responses"])).as_py() or 0
    csat_top = pc.sum(pc.multiply(t["csat_top2_rate"], t["csat_responses"])).as_py() or 0
    result = [
        Total("calls_offered", "Calls offered", _sum(t, "calls_offered"), "count"),
        Total("calls_answered", "Calls answered", _sum(t, "calls_answered"), "count"),
    ]
    if queue:
        answered, abandoned = _sum(t, "calls_answered"), _sum(t, "calls_abandoned")
        # service_level_rate = in SL ÷ (answered + abandoned − short): weight by that denominator
        base = pc.subtract(pc.add(t["calls_answered"], t["calls_abandoned"]), t["short_abandoned"])
        in_sl = pc.sum(pc.multiply(t["service_level_rate"], base)).as_py() or 0
        waited = pc.sum(pc.multiply(t["asa_s"], t["calls_answered"])).as_py() or 0
        result += [
            Total("calls_abandoned", "Calls abandoned", abandoned, "count"),
            Total("abandon_rate", "Abandon rate", _ratio(abandoned, _sum(t, "calls_offered")), "rate"),
            Total("service_level_rate", "Service level %", _ratio(in_sl, pc.sum(base).as_py() or 0), "rate"),
            Total("asa_s", "Average speed of answer (ASA)", _ratio(waited, answered), "duration"),
        ]
    resolved, eligible, pending = _sum(t, "fcr_resolved"), _sum(t, "fcr_eligible"), _sum(t, "fcr_pending")
    if not queue:
        result.append(Total("calls_handled", "Calls handled", handled, "count"))
    result += [
        Total("avg_handle_time_s", "Average handle time (AHT)", _ratio(handle_time, handled), "duration"),
        Total("transfer_rate", "Transfer rate", _ratio(_sum(t, "transfers_out"), handled), "rate"),
        Total("fcr_rate", "FCR rate", _ratio(resolved, eligible - pending), "rate"),
        Total("csat_responses", "CSAT responses", responses, "count"),
        Total("csat_avg", "CSAT average", _ratio(csat_points, responses), "score"),
        Total("csat_top2_rate", "CSAT % (4–5)", _ratio(csat_top, responses), "rate"),
    ]
    return result


def _handled_table(report: Report) -> tuple[pa.Table, str]:
    """Per row: its category key, calls handled and handle time in seconds."""
    t = report.table
    by_period = report.spec.interval != "none"
    if report.spec.report == "call-details":
        t = _handled_legs(t)
        handle = pc.add(
            pc.add(pc.fill_null(t["talk_time_s"], 0), pc.fill_null(t["hold_time_s"], 0)),
            pc.fill_null(t["wrap_up_time_s"], 0),
        )
        key = t["period_start"] if by_period else pc.fill_null(t["agent_name"], "(no agent)")
        return pa.table({"key": key, "handled": pa.repeat(1, t.num_rows), "handle_s": handle}), "agent"
    handle = pc.add(pc.add(t["total_talk_time_s"], t["total_hold_time_s"]), t["total_wrap_up_time_s"])
    key = t["period_start"] if by_period else pc.fill_null(t["group_name"], "")
    handled = t["calls_answered"] if report.spec.report == "queue-performance" else t["calls_handled"]
    return pa.table({"key": key, "handled": handled, "handle_s": handle}), report.spec.group_by or "group"


def chart_series(report: Report) -> Series:
    """Calls handled and AHT per period (a trend) or per group (the busiest CHART_GROUPS)."""
    by_period = report.spec.interval != "none"
    table, group = _handled_table(report)
    sums = table.group_by("key", use_threads=False).aggregate([("handled", "sum"), ("handle_s", "sum")])
    order = [("key", "ascending")] if by_period else [("handled_sum", "descending"), ("key", "ascending")]
    sums = sums.sort_by(order)
    if not by_period:
        sums = sums.slice(0, CHART_GROUPS)
    keys: list[Any] = sums["key"].to_pylist()
    if by_period:  # '2026-11-10T10:00:00+04:00' -> '2026-11-10 10:00', local time as the data sheet shows it
        keys = [k[:16].replace("T", " ") for k in keys]
    handled = [int(v or 0) for v in sums["handled_sum"].to_pylist()]
    seconds = sums["handle_s_sum"].to_pylist()
    aht = [_ratio(s or 0, h) for s, h in zip(seconds, handled, strict=True)]
    return Series("period" if by_period else group, [str(k) for k in keys], handled, aht)
