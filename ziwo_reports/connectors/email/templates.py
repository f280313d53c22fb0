"""The subject and intro templates of an e-mail target: Python format strings over the report's
fields (`{report} {period_start:%d %b} {timezone}`), checked when the options are (a bad field or
format is a one-line error naming it), rendered into one header-safe line."""

from __future__ import annotations

import string
from datetime import datetime, timedelta
from typing import Any

from ziwo_reports.report_model import Report

#: Fields of every message: the report's.
REPORT_FIELDS = (
    "report",
    "report_title",
    "title",
    "instance",
    "period",
    "period_start",
    "period_end",
    "timezone",
    "rolling_date",
    "group_by",
    "interval",
    "rows",
    "generated_at",
)
#: Fields an after_call message adds: the workflow, how many calls, a one-line summary, and the
#: fields of its first call (an alert of one call: that call).
CALL_FIELDS = (
    "call_id",
    "caller_number",
    "agent_name",
    "queue_name",
    "result",
    "direction",
    "disposition",
    "started_at",
)
ALERT_FIELDS = (*REPORT_FIELDS, "workflow", "calls", "summary", *CALL_FIELDS)
_TIMES = ("period_start", "period_end", "generated_at", "started_at")
_NUMBERS = ("rows", "calls")
MAX_SUBJECT = 250

REPORT_TITLES = {
    "agent-performance": "Agent performance",
    "queue-performance": "Queue performance",
    "call-details": "Call details",
}


class TemplateError(ValueError):
    """A template that names an unknown field or a format its field cannot take."""


def _sample(name: str) -> Any:
    if name in _TIMES:
        return datetime(2026, 11, 23, 9, 30)
    if name in _NUMBERS:
        return 12
    return "text"


def check_template(option: str, template: str, fields: tuple[str, ...]) -> str:
    """The template, or TemplateError naming the option, the field and what is wrong."""
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as problem:
        raise TemplateError(f"{option} {template!r}: {problem}") from None
    for _, name, spec, conversion in pieces:
        if name is None:
            continue
        if name not in fields:
            raise TemplateError(f"{option} {template!r}: unknown field {{{name}}}; fields: {', '.join(fields)}")
        if spec and "{" in spec:
            raise TemplateError(f"{option} {template!r}: field {{{name}}} has a nested field in its format")
        try:
            value = _sample(name)
            if conversion:
                value = {"r": repr, "s": str, "a": ascii}[conversion](value)
            format(value, spec or "")
        except (ValueError, TypeError) as problem:
            raise TemplateError(f"{option} {template!r}: field {{{name}}} with format {spec!r}: {problem}") from None
    return template


def render(template: str, fields: dict[str, Any]) -> str:
    """The template filled in, as one line (line breaks and runs of spaces become one space)."""
    values = {name: ("" if value is None else value) for name, value in fields.items()}
    text = string.Formatter().vformat(template, (), _Blank(values))
    return " ".join(text.split())


class _Blank(dict):
    """A missing field (a call field in a report message) is empty, not a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def period_text(first: datetime, last: datetime) -> str:
    """The days a window covers, for people: `Mon 23 Nov 2026`, `16 Nov – 22 Nov 2026`."""
    if first.date() == last.date():
        return f"{first:%a %d %b %Y}"
    if first.year == last.year:
        return f"{first:%d %b} – {last:%d %b %Y}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


def report_fields(report: Report, generated_at: datetime) -> dict[str, Any]:
    """The report's fields; times are aware datetimes in the report zone, period_end the last
    instant inside the window (so `%d %b` gives the last day included)."""
    spec, zone, window = report.spec, report.zone, report.window
    first = zone.local(window.start)
    last = zone.local(max(window.start, window.end - timedelta(microseconds=1)))
    return {
        "report": spec.report,
        "report_title": REPORT_TITLES.get(spec.report, spec.report),
        "title": report.title,
        "instance": spec.instance or "all instances",
        "period": period_text(first, last),
        "period_start": first,
        "period_end": last,
        "timezone": zone.label,
        "rolling_date": spec.rolling_date,
        "group_by": spec.group_by,
        "interval": spec.interval,
        "rows": report.table.num_rows,
        "generated_at": zone.local(generated_at),
    }
