"""What a message says, as data (`Body`), and its HTML and plain-text renderings.

The HTML is built for mail clients, not browsers: tables for layout, inline styles only (no CSS
classes, no flexbox, no external images), widths as attributes too (Outlook's Word engine reads
those), so Outlook and Gmail show the same thing. Jinja2 renders it with autoescaping: an agent
named `<script>` is text. Values are formatted as the terminal formats them (metric_definitions.
format_value: durations m:ss, rates with %), the headline totals are the workbook's (headline.py),
and a row is flagged beyond the same thresholds that turn the workbook's cells red."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ziwo_reports.connectors.files.headline import totals
from ziwo_reports.connectors.files.options import THRESHOLD_RULES, Thresholds, threshold_text
from ziwo_reports.metric_definitions import Kind, describe, format_value
from ziwo_reports.report_model import Report

#: The columns a message shows per report (the workbook attached has them all): (column, header).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "agent-performance": (
        ("calls_offered", "Offered"), ("calls_answered", "Answered"), ("calls_missed", "Missed"),
        ("calls_handled", "Handled"), ("avg_handle_time_s", "AHT"), ("avg_hold_time_s", "Avg hold"),
        ("transfer_rate", "Transfer"), ("fcr_rate", "FCR"), ("csat_avg", "CSAT"),
    ),
    "queue-performance": (
        ("calls_offered", "Offered"), ("calls_answered", "Answered"), ("calls_abandoned", "Abandoned"),
        ("abandon_rate", "Abandon"), ("service_level_rate", "SL"), ("asa_s", "ASA"),
        ("longest_wait_s", "Longest wait"), ("avg_handle_time_s", "AHT"),
    ),
    "call-details": (
        ("started_at_local", "Started"), ("direction", "Direction"), ("caller_number", "Caller"),
        ("queue_name", "Queue"), ("agent_name", "Agent"), ("result", "Result"),
        ("queue_wait_time_s", "Wait"), ("talk_time_s", "Talk"), ("disposition", "Disposition"),
    ),
}  # fmt: skip
GROUP_HEADERS = {"agent": "Agent", "team": "Team", "queue": "Queue", "none": "Group"}
DEFAULT_TOP_BY = {"agent-performance": "calls_handled", "queue-performance": "calls_offered"}
_SHORT = {
    "avg_handle_time_s": "AHT",
    "csat_avg": "CSAT",
    "fcr_rate": "FCR",
    "service_level_rate": "Service level",
    "abandon_rate": "Abandon rate",
}


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool = False
    flagged: bool = False


@dataclass
class Table:
    headers: list[tuple[str, bool]]  # (header, numeric)
    rows: list[list[Cell]]
    more: int = 0  # rows of the report not shown


@dataclass
class Body:
    """Everything a message shows, formatted; rendered as HTML and as text."""

    heading: str
    subheading: str
    intro: str
    totals: list[tuple[str, str]] = field(default_factory=list)
    flagged_title: str = ""
    flagged: Table | None = None
    flagged_reasons: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    table_title: str = ""
    table: Table | None = None
    attachments: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (name, URL)
    footer: list[str] = field(default_factory=list)


def _cell(value: Any, kind: Kind, zone) -> Cell:
    if isinstance(value, datetime):
        return Cell(zone.local(value).strftime("%Y-%m-%d %H:%M"))
    if kind == "text" and isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return Cell(value[:16].replace("T", " "))  # an ISO local time (started_at_local): to the minute
    if isinstance(value, list):
        return Cell("; ".join(str(v) for v in value))
    numeric = kind in ("count", "duration", "rate", "score")
    return Cell(format_value(value, kind), numeric=numeric)


def _flags(table: pa.Table, thresholds: Thresholds) -> tuple[pa.Array, dict[str, pa.Array], list[str]]:
    """Per row whether it is beyond any threshold; per column its rows beyond it; the checks, worded."""
    any_flag = pa.array([False] * table.num_rows, pa.bool_())
    by_column, checks = {}, []
    for column, setting, op, _ in THRESHOLD_RULES:
        limit = getattr(thresholds, setting)
        if limit is None or column not in table.column_names:
            continue
        values = table[column]
        beyond = pc.greater(values, limit) if op == ">" else pc.less(values, limit)
        beyond = pc.fill_null(beyond, False)
        by_column[column] = beyond.combine_chunks() if isinstance(beyond, pa.ChunkedArray) else beyond
        any_flag = pc.or_(any_flag, by_column[column])
        checks.append(
            f"{_SHORT.get(column, column)} {'above' if op == '>' else 'below'} {threshold_text(setting, limit)}"
        )
    return any_flag, by_column, checks


def _rows_table(report: Report, table: pa.Table, flags: dict[str, pa.Array], places: list[int], more: int) -> Table:
    kind = report.spec.report
    columns = list(COLUMNS.get(kind, ()))
    lead: list[tuple[str, str]] = []
    if kind != "call-details":
        lead.append(("group_name", GROUP_HEADERS.get(report.spec.group_by or "none", "Group")))
        if report.spec.interval != "none":
            lead.append(("period_start", "Period"))
    shown = [(name, header) for name, header in lead + columns if name in table.column_names]
    kinds = {name: describe(kind, name).kind for name, _ in shown}
    headers = [(header, kinds[name] in ("count", "duration", "rate", "score")) for name, header in shown]
    rows = []
    picked = table.take(pa.array(places, pa.int64())).to_pylist() if places else []
    for place, row in zip(places, picked, strict=True):
        cells = []
        for name, _ in shown:
            cell = _cell(row.get(name), kinds[name], report.zone)
            flagged = name in flags and bool(flags[name][place].as_py())
            cells.append(Cell(cell.text, cell.numeric, flagged))
        rows.append(cells)
    return Table(headers, rows, more)


def _reason(row: dict[str, Any], flags: dict[str, pa.Array], place: int, thresholds: Thresholds, report: str) -> str:
    parts = []
    for column, setting, op, _ in THRESHOLD_RULES:
        if column in flags and flags[column][place].as_py():
            value = format_value(row[column], describe(report, column).kind)
            limit = threshold_text(setting, getattr(thresholds, setting))
            parts.append(f"{_SHORT.get(column, column)} {value} ({'above' if op == '>' else 'below'} {limit})")
    return ", ".join(parts)


def top_places(report: Report, top_by: str | None, count: int) -> list[int]:
    """The places of the top rows: the largest `top_by` first (empty last), or the report's order."""
    table = report.table
    column = top_by or DEFAULT_TOP_BY.get(report.spec.report)
    if count == 0 or table.num_rows == 0:
        return []
    if column is None or column not in table.column_names:
        return list(range(min(count, table.num_rows)))
    order = pc.sort_indices(table, sort_keys=[(column, "descending")])  # empty values last, Arrow's default
    return order.slice(0, count).to_pylist()


def report_body(
    report: Report,
    *,
    heading: str,
    intro: str,
    thresholds: Thresholds,
    top_by: str | None,
    top_rows: int,
    flagged_rows: int,
    footer: list[str],
) -> Body:
    """The message of a report: headline totals, flagged rows, the top rows."""
    table = report.table
    zone = report.zone
    last = report.window.end

    def shown(instant: datetime) -> str:
        return zone.local(instant).strftime("%Y-%m-%d %H:%M")

    subheading = f"{shown(report.window.start)} – {shown(last)} ({zone.label})"
    body = Body(heading=heading, subheading=subheading, intro=intro, footer=footer)
    if report.spec.report != "call-details" or table.num_rows:
        body.totals = [(t.label, format_value(t.value, t.kind)) for t in totals(report)]
    any_flag, flags, checks = _flags(table, thresholds)
    body.checks = checks
    if checks:
        places = pc.indices_nonzero(any_flag).to_pylist() if table.num_rows else []
        shown = places[:flagged_rows]
        body.flagged_title = f"Flagged: {len(places)} of {table.num_rows} rows beyond the thresholds"
        if shown:
            body.flagged = _rows_table(report, table, flags, shown, len(places) - len(shown))
            rows = table.take(pa.array(shown, pa.int64())).to_pylist()
            body.flagged_reasons = [
                _reason(row, flags, place, thresholds, report.spec.report)
                for place, row in zip(shown, rows, strict=True)
            ]
    places = top_places(report, top_by, top_rows)
    if places:
        column = top_by or DEFAULT_TOP_BY.get(report.spec.report)
        by = f" by {describe(report.spec.report, column).label.lower()}" if column else ""
        body.table_title = (
            f"Top {len(places)} of {table.num_rows} rows{by}"
            if len(places) < table.num_rows
            else f"All {table.num_rows} rows"
        )
        body.table = _rows_table(report, table, flags, places, table.num_rows - len(places))
    elif table.num_rows == 0:
        body.table_title = "No rows in this period"
    return body


def calls_body(report: Report, *, heading: str, subheading: str, intro: str, footer: list[str]) -> Body:
    """The message of after_call calls (an alert of one call, or a digest): the calls."""
    table = report.table
    body = Body(heading=heading, subheading=subheading, intro=intro, footer=footer)
    body.table_title = f"{table.num_rows} call{'s' if table.num_rows != 1 else ''}"
    body.table = _rows_table(report, table, {}, list(range(table.num_rows)), 0)
    return body


@functools.cache
def _environment():  # -> jinja2.Environment
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("ziwo_reports.connectors.email").joinpath("templates", name).read_text("utf-8")
        ),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(body: Body) -> str:
    return _environment().get_template("message.html").render(body=body)


def _text_table(table: Table, reasons: list[str] | None = None) -> list[str]:
    headers = [h for h, _ in table.headers] + (["Why"] if reasons else [])
    rows = [[c.text + (" !" if c.flagged else "") for c in row] for row in table.rows]
    if reasons:
        rows = [[*row, reason] for row, reason in zip(rows, reasons, strict=True)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    numeric = [n for _, n in table.headers] + ([False] if reasons else [])

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    if table.more:
        out.append(f"... and {table.more} more rows (in the attached files)")
    return out


def render_text(body: Body) -> str:
    """The plain-text alternative: the same content, aligned for a fixed-width font."""
    lines = [body.heading, body.subheading, ""]
    if body.intro:
        lines += [body.intro, ""]
    if body.totals:
        width = max(len(label) for label, _ in body.totals)
        lines += [f"{label.ljust(width)}  {value}" for label, value in body.totals] + [""]
    if body.flagged_title:
        lines += [body.flagged_title + f" ({'; '.join(body.checks)})"]
        if body.flagged is not None:
            lines += _text_table(body.flagged, body.flagged_reasons)
        lines.append("")
    if body.table_title:
        lines.append(body.table_title)
        if body.table is not None:
            lines += _text_table(body.table)
        lines.append("")
    if body.attachments:
        lines += ["Attached: " + ", ".join(body.attachments), ""]
    for name, url in body.links:
        lines += [f"{name}: {url}"]
    if body.links:
        lines.append("")
    lines += ["-- ", *body.footer]
    return "\n".join(lines) + "\n"
