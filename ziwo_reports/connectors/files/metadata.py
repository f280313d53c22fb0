"""What a file says about the report it holds: the JSON envelope, Parquet's schema metadata and
Excel's Summary sheet all take it from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ziwo_reports.report_model import Report


def report_metadata(report: Report, generated_at: datetime | None = None) -> dict[str, Any]:
    """The report, its instance, window (ISO 8601 in the report zone), zone, as-of and data horizon,
    when the file was generated, and the full spec to reproduce it."""
    zone = report.zone
    generated = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "report": report.spec.report,
        "instance": report.spec.instance,
        "title": report.title,
        "window": {"start": zone.iso(report.window.start), "end": zone.iso(report.window.end)},
        "timezone": zone.label,
        "as_of": report.as_of.isoformat(),
        "data_held_until": report.horizon.isoformat(),
        "generated_at": generated.isoformat(),
        "spec": report.spec.model_dump(mode="json"),
    }


def describe_filters(report: Report) -> str:
    """The filters in one line, e.g. 'agent_ids: 1, 3; outcomes: answered', or 'none'."""
    parts = []
    for name, value in report.spec.filters.model_dump(exclude_none=True).items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{name}: {shown}")
    return "; ".join(parts) or "none"


def describe_settings(report: Report) -> str:
    """The metric settings that differ from the defaults, or 'defaults'."""
    changed = report.spec.settings.model_dump(mode="json", exclude_defaults=True)
    return "; ".join(f"{k}: {v}" for k, v in changed.items()) or "defaults"
