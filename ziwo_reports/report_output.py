"""A computed report on the terminal (a readable table) or as CSV or JSON text."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from ziwo_reports.files import atomic_writer
from ziwo_reports.report import Report

#: What fits a terminal, with short headers; CSV and JSON carry every column.
TERMINAL_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "agent-performance": (
        ("calls_offered", "offered"), ("calls_answered", "answered"), ("calls_missed", "missed"),
        ("outbound_calls", "outbound"), ("calls_handled", "handled"), ("avg_talk_time_s", "avg talk"),
        ("avg_hold_time_s", "avg hold"), ("avg_handle_time_s", "AHT"), ("transfer_rate", "transfer"),
        ("fcr_rate", "FCR"), ("csat_avg", "CSAT"), ("csat_pct", "CSAT 4-5"),
    ),
    "queue-performance": (
        ("calls_offered", "offered"), ("calls_answered", "answered"), ("calls_abandoned", "abandoned"),
        ("short_abandoned", "short ab."), ("abandon_rate", "abandon"), ("service_level_pct", "SL"),
        ("asa_s", "ASA"), ("avg_wait_s", "avg wait"), ("longest_wait_s", "longest"),
        ("avg_handle_time_s", "AHT"), ("fcr_rate", "FCR"), ("csat_pct", "CSAT 4-5"),
    ),
    "call-details": (
        ("started_at_local", "started"), ("direction", "direction"), ("caller_number", "caller"),
        ("agent_name", "agent"), ("queue_name", "queue"), ("result", "result"), ("talk_time_s", "talk"),
        ("hold_time_s", "hold"), ("disposition", "disposition"),
    ),
}  # fmt: skip
TERMINAL_ROWS = 200


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "–"
    if column.endswith("_rate"):
        return f"{100 * value:.1f}%"
    if column.endswith("_pct"):
        return f"{value:.1f}%"
    if column.endswith("_s") and isinstance(value, int | float):
        seconds = round(value)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render(report: Report) -> None:
    """A table on the terminal: the group, the period when there are intervals, the main metrics."""
    from rich.console import Console
    from rich.table import Table

    kind = report.spec.report
    columns = list(TERMINAL_COLUMNS[kind])
    lead = [] if kind == "call-details" else [("group_name", report.spec.group_by or "group")]
    if report.spec.interval != "none":
        lead.append(("period_start", "period"))
    table = Table(title=report.title, title_justify="left")
    for name, header in lead + columns:
        table.add_column(header, justify="left" if (name, header) in lead or kind == "call-details" else "right")
    rows = report.table.slice(0, TERMINAL_ROWS).to_pylist()
    for row in rows:
        table.add_row(*(_cell(name, row.get(name)) for name, _ in lead + columns))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    more = report.table.num_rows - len(rows)
    note = f"{report.table.num_rows} rows" + (f", the first {len(rows)} shown" if more > 0 else "")
    console.print(
        f"{note}; every column with --format csv or json. FCR data held until {report.horizon:%Y-%m-%d %H:%M} UTC."
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_text(report: Report, fmt: str) -> str:
    if fmt == "csv":
        buffer = io.BytesIO()
        pa_csv.write_csv(_flat(report.table), buffer)
        return buffer.getvalue().decode()
    envelope = {
        "report": report.spec.report,
        "window": {"start": report.zone.iso(report.window.start), "end": report.zone.iso(report.window.end)},
        "timezone": report.zone.label,
        "as_of": report.as_of.isoformat(),
        "spec": report.spec.model_dump(mode="json"),
        "rows": report.table.to_pylist(),
    }
    return json.dumps(envelope, default=_json_default, indent=1, ensure_ascii=False) + "\n"


def _flat(table: pa.Table) -> pa.Table:
    """CSV has no lists: tags become 'a; b'."""
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            joined = [None if v is None else "; ".join(v) for v in table[field.name].to_pylist()]
            table = table.set_column(index, field.name, pa.array(joined, pa.string()))
    return table


def write(report: Report, fmt: str, out: Path | None) -> None:
    text = to_text(report, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        with atomic_writer(out) as handle:
            handle.write(text)
