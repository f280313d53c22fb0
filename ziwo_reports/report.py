"""Reports from the warehouse: `compute_report` runs the metric SQL of `sql/metrics/` for a
ReportSpec (`report_model.py`) and returns the Report, its rows an Arrow table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from ziwo_reports.connectors.ziwo.assumptions import AGENT_REJECT_CAUSES, CALLER_ABANDON_RESULT, TRANSFER_CAUSES
from ziwo_reports.contacts import check_contacts
from ziwo_reports.report_model import Report, ReportSpec, ReportSpecError, iso_times, report_window
from ziwo_reports.timewindows import ReportZone, Window, intervals, period_lookup
from ziwo_reports.warehouse import Warehouse, sql_text


class UnknownInstanceError(ReportSpecError):
    """The warehouse holds nothing of the spec's instance (a typo would report zero rows)."""


def check_instance(warehouse: Warehouse, instance: str | None) -> None:
    """Refuse an instance the warehouse holds nothing of, naming those it holds."""
    if instance is None:
        return
    (held,) = warehouse.one("instance_held", instance=instance) or (False,)
    if not held:
        names = [name for (name,) in warehouse.run("held_instances")]
        holds = ", ".join(repr(name) for name in names) if names else "none yet (run `ziwo-reports ingest`)"
        raise UnknownInstanceError(f"instance {instance!r}: the warehouse holds no such instance; it holds {holds}")


_FRAGMENTS: dict[str, tuple[str, ...]] = {
    "agent-performance": ("report_intervals", "report_legs", "agent_metrics"),
    "queue-performance": ("report_intervals", "report_legs", "queue_metrics"),
    "call-details": ("report_intervals", "report_legs"),
}
_FINAL = {
    "agent-performance": "agent_performance",
    "queue-performance": "queue_performance",
    "call-details": "call_details",
}


def report_sql(report: str) -> str:
    """The report's query: the CTEs of its fragments (each a file of sql/metrics/), then its SELECT."""
    ctes = ",\n".join(sql_text(f"metrics/{name}").strip() for name in _FRAGMENTS[report])
    return f"WITH\n{ctes}\n{sql_text(f'metrics/{_FINAL[report]}').strip()}"


def _period_params(window: Window, spec: ReportSpec, zone: ReportZone) -> dict[str, Any]:
    """The report's periods: their labels (`report_intervals` numbers them from 0) and the lookup
    that places a leg in one."""
    spans = list(intervals(window, spec.interval, zone, week_start=spec.settings.week_start))
    lookup = period_lookup(spans)
    return {
        "period_starts": [zone.iso(span.start) for span in spans],
        "period_ends": [zone.iso(span.end) for span in spans],
        "period_origin_us": lookup.origin_us,
        "bucket_us": lookup.bucket_us,
        "bucket_periods": lookup.periods,
        "bucket_splits": lookup.splits,
    }


def data_horizon(warehouse: Warehouse, instance: str | None) -> datetime | None:
    row = warehouse.one("metrics/data_horizon", instance=instance)
    return row[0] if row else None


def _legs_span(spec: ReportSpec, window: Window) -> tuple[datetime, datetime]:
    """Which legs a report reads, by start: the window's, and those around it that it needs."""
    if spec.report == "queue-performance":  # whole queue visits around the window's edges
        return window.start - timedelta(days=2), window.end + timedelta(days=1)
    if spec.settings.attribute_by == "end":  # legs ending in the window started before it
        return window.start - timedelta(days=1), window.end
    return window.start, window.end


def compute_report(
    warehouse: Warehouse, spec: ReportSpec, now: datetime | None = None, *, only_call_ids: list[str] | None = None
) -> Report:
    """Run the spec's report over the warehouse; the rows come back as an Arrow table. `only_call_ids`
    restricts the legs it reads to those (an after_call workflow's batch of call details)."""
    zone = spec.zone
    as_of, window = report_window(spec, now)
    settings, filters = spec.settings, spec.filters
    check_instance(warehouse, spec.instance)
    check_contacts(warehouse, spec.instance)
    held_until = data_horizon(warehouse, spec.instance)
    legs_from, legs_until = _legs_span(spec, window)
    horizon = min(as_of, held_until) if held_until else as_of
    params: dict[str, Any] = {
        "instance": spec.instance,
        "window_start": window.start,
        "window_end": window.end,
        "legs_from": legs_from,
        "legs_until": legs_until,
        "only_call_ids": only_call_ids,
        "timezone": zone.label,
        **_period_params(window, spec, zone),
        "attribute_by": settings.attribute_by,
        "group_by": spec.group_by,
        "transfer_causes": list(TRANSFER_CAUSES),
        "caller_abandon_result": CALLER_ABANDON_RESULT,
        "reject_causes": list(AGENT_REJECT_CAUSES),
        "agent_ids": filters.agent_ids,
        "team_ids": filters.team_ids,
        "queue_ids": filters.queue_ids,
        "directions": filters.directions,
        "tags": filters.tags,
        "min_duration_s": filters.min_duration_s,
        "outcomes": filters.outcomes,
        "resolved_dispositions": settings.resolved_dispositions,
        "horizon": horizon,
        "fcr_window_s": int(settings.fcr_window.total_seconds()),
        "fcr_source": settings.fcr_source,
        "fcr_repeat": settings.fcr_repeat,
        "csat_credit": settings.csat_credit,
        "hold_average": settings.hold_average,
        "wrap_up_fallback": settings.wrap_up_fallback,
        "short_abandon_s": settings.short_abandon_s,
        "service_level_s": settings.service_level_s,
    }
    table = warehouse.arrow(report_sql(spec.report), **params)
    if spec.report == "call-details":
        table = _with_local_times(table, zone)
    return Report(spec, zone, window, as_of, horizon, table)


_LOCAL_COLUMNS = ("started_at", "answered_at", "ended_at")


def _with_local_times(table: pa.Table, zone: ReportZone) -> pa.Table:
    """`<column>_local` text columns: the instant in the report zone, ISO 8601 with its offset."""
    for column in _LOCAL_COLUMNS:
        values = table[column]
        local = values.cast(pa.timestamp(values.type.unit, tz=zone.arrow_name))
        table = table.append_column(f"{column}_local", iso_times(local))
    return table
