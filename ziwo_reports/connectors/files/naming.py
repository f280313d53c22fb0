"""File names from a template such as `{report}_{instance}_{period}_{zone}.{ext}`.

Every field value is sanitised (no separators, NUL, control characters, leading dots), so nothing
that comes from data, such as an instance named `../../etc`, can leave the destination folder;
the template's own text may name sub-folders (`{instance}/{report}.{ext}`) but not climb out."""

from __future__ import annotations

import os
import re
import string
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from ziwo_reports.files import NAME_MAX, shown

#: The period and the zone keep apart the files of runs that differ in them: a daily report in
#: Asia/Dubai and a manual one in UTC of the same day, a daily and a weekly report from one Monday.
DEFAULT_TEMPLATE = "{report}_{instance}_{period}_{zone}.{ext}"

FIELDS = (
    "report",
    "instance",
    "rolling_date",
    "timezone",
    "zone",
    "group_by",
    "interval",
    "period",
    "period_start",
    "period_end",
    "window_start",
    "window_end",
    "generated_at",
    "format",
    "ext",
)
#: The file formats; each is also its file's extension.
FileFormat = Literal["xlsx", "csv", "parquet", "json"]
EXTENSIONS: tuple[str, ...] = get_args(FileFormat)

# Path separators, NUL and control characters, and what Windows forbids in names.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_MAX_VALUE = 100


class TemplateError(ValueError):
    """A file name template that names an unknown field or would leave the destination folder."""


def sanitise(text: str) -> str:
    """A field value made safe for one path segment: unsafe characters and whitespace become '_',
    leading dots go (no hidden files, no '..'), trailing dots and spaces go (Windows)."""
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", text))
    text = re.sub(r"\s+", "_", text).lstrip(".").rstrip(". ")
    return text[:_MAX_VALUE] or "_"


def _pieces(template: str) -> list[tuple[str, str | None, str, str | None]]:
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as error:
        raise TemplateError(f"file name template {template!r}: {error}") from None
    for _, name, spec, _ in pieces:
        if name is None:
            continue
        if name not in FIELDS:
            if not name or name.isdigit():
                raise TemplateError(f"file name template {template!r}: fields need a name, one of {', '.join(FIELDS)}")
            raise TemplateError(
                f"unknown field {name!r} in file name template {template!r}; known fields: {', '.join(FIELDS)}"
            )
        if spec and "{" in spec:
            raise TemplateError(f"file name template {template!r}: field {name!r} has a nested field in its format")
    return pieces


def render_name(template: str, fields: dict[str, Any], ext: str) -> str:
    """The relative file name (sub-folders separated by '/'), with `ext` as its extension."""
    parts: list[str] = []
    for literal, name, spec, conversion in _pieces(template):
        parts.append(literal)
        if name is None:
            continue
        value = fields[name]
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        try:
            text = "" if value is None else format(value, spec or "")
        except (ValueError, TypeError) as error:
            raise TemplateError(
                f"file name template {template!r}: field {name!r} with format {spec!r}: {error}"
            ) from None
        parts.append(sanitise(text))
    name = "".join(parts).strip()
    stem, dot, suffix = name.rpartition(".")
    name = f"{stem}.{ext}" if dot and suffix.lower() in EXTENSIONS else f"{name}.{ext}"
    segments = name.split("/")
    for segment in segments:
        if not segment or segment.startswith(".") or "\\" in segment or "\x00" in segment:
            raise TemplateError(
                f"file name template {template!r} gives {name!r}: each part must be a plain name, "
                "not absolute, empty, '..' or hidden"
            )
        size = len(os.fsencode(segment))
        if size > NAME_MAX:
            raise TemplateError(
                f"file name template {template!r} gives a name {size} bytes long ({shown(segment)!r}); "
                f"file systems allow {NAME_MAX} bytes per name"
            )
    return name


#: What a test send's file names carry before their extension.
TEST_SUFFIX = "-test"
_EXTENSION_FIELDS = ("{ext}", "{format}")


def marked_template(template: str) -> str:
    """The template of a test send's files: `-test` before the extension (`..._Asia-Dubai-test.xlsx`),
    or at the end of a name without one, so a test never writes over a real file."""
    stem, dot, suffix = template.rpartition(".")
    if dot and stem and "/" not in suffix and (suffix in _EXTENSION_FIELDS or suffix.lower() in EXTENSIONS):
        return f"{stem}{TEST_SUFFIX}.{suffix}"
    return template + TEST_SUFFIX


def check_template(template: str) -> None:
    """Raise TemplateError now for a template that could never name a file."""
    sample = datetime(2026, 1, 1)
    fields = {name: "x" for name in FIELDS} | {
        name: sample for name in ("period_start", "period_end", "window_start", "window_end", "generated_at")
    }
    render_name(template, fields, "csv")


def zone_name(label: str) -> str:
    """A report zone as a file name part: `Asia/Dubai` -> `Asia-Dubai`, `UTC-12:00` -> `UTC-12-00`."""
    return label.replace("/", "-").replace(":", "-")


def period_name(first: datetime, last: datetime) -> str:
    """The days a window covers: `2026-11-23`, or `2026-11-16--2026-11-22` (ISO 8601's interval
    with `--` for the `/` a file name cannot hold) when it spans more than one day."""
    if first.date() == last.date():
        return f"{first:%Y-%m-%d}"
    return f"{first:%Y-%m-%d}--{last:%Y-%m-%d}"


def name_fields(report: Any, fmt: str, generated_at: datetime) -> dict[str, Any]:
    """The template's fields for a report: times are aware datetimes in the report zone;
    period_end is the last instant inside the window, so '%Y-%m-%d' gives the last day included."""
    spec, zone, window = report.spec, report.zone, report.window
    first = zone.local(window.start)
    last = zone.local(max(window.start, window.end - timedelta(microseconds=1)))
    return {
        "report": spec.report,
        "instance": spec.instance or "all",
        "rolling_date": spec.rolling_date,
        "timezone": zone.label,
        "zone": zone_name(zone.label),
        "group_by": spec.group_by,
        "interval": spec.interval,
        "period": period_name(first, last),
        "period_start": first,
        "period_end": last,
        "window_start": zone.local(window.start),
        "window_end": zone.local(window.end),
        "generated_at": zone.local(generated_at),
        "format": fmt,
        "ext": fmt,
    }
