"""A computed report on the terminal (a readable table) or as CSV or JSON text."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

from ziwo_reports.files import atomic_writer
from ziwo_reports.metric_definitions import describe, format_value
from ziwo_reports.report_model import Report

#: What fits a terminal, with short headers; CSV and JSON carry every column.
TERMINAL_COLUMNS: dict[str, Sequence[tuple[str, str]]] = {
    "agent-performance": (
        ("calls_offered", "offered"), ("calls_answered", "answered"), ("calls_missed", "missed"),
        ("abandoned_while_ringing", "ring ab."), ("outbound_calls", "outbound"), ("calls_handled", "handled"),
        ("avg_talk_time_s", "avg talk"),
        ("avg_hold_time_s", "avg hold"), ("avg_handle_time_s", "AHT"), ("transfer_rate", "transfer"),
        ("fcr_rate", "FCR"), ("csat_avg", "CSAT"), ("csat_top2_rate", "CSAT 4-5"),
    ),
    "queue-performance": (
        ("calls_offered", "offered"), ("calls_answered", "answered"), ("calls_abandoned", "abandoned"),
        ("short_abandoned", "short ab."), ("abandon_rate", "abandon"), ("service_level_rate", "SL"),
        ("asa_s", "ASA"), ("avg_wait_s", "avg wait"), ("longest_wait_s", "longest"),
        ("avg_handle_time_s", "AHT"), ("fcr_rate", "FCR"), ("csat_top2_rate", "CSAT 4-5"),
    ),
    "call-details": (
        ("started_at_local", "started"), ("direction", "direction"), ("caller_number", "caller"),
        ("agent_name", "agent"), ("queue_name", "queue"), ("result", "result"), ("talk_time_s", "talk"),
        ("hold_time_s", "hold"), ("disposition", "disposition"),
    ),
}  # fmt: skip
TERMINAL_ROWS = 200


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
    kinds = {name: describe(kind, name).kind for name, _ in lead + columns}
    for row in rows:
        table.add_row(*(format_value(row.get(name), kinds[name]) for name in kinds))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    more = report.table.num_rows - len(rows)
    note = f"{report.table.num_rows} rows" + (f", the first {len(rows)} shown" if more > 0 else "")
    console.print(
        f"{note}; every column with --format csv or json. FCR data held until {report.horizon:%Y-%m-%d %H:%M} UTC."
    )


def to_text(report: Report, fmt: str) -> str:
    """The report as CSV (no byte-order mark, for pipes) or as the JSON envelope, written by the file
    connector's writers so the command line and report files agree."""
    from ziwo_reports.connectors.files.csv_file import write_csv
    from ziwo_reports.connectors.files.json_file import write_json

    buffer = io.BytesIO()
    if fmt == "csv":
        write_csv(report, buffer, bom=False, eol="\n")
    else:
        write_json(report, buffer)
    return buffer.getvalue().decode()


def write(report: Report, fmt: str, out: Path | None) -> None:
    text = to_text(report, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        with atomic_writer(out) as handle:
            handle.write(text)
