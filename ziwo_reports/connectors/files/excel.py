"""The report as an Excel workbook: a Summary sheet (what, when, where, headline totals, a chart),
the data sheet(s), and a Definitions sheet with each column's formula.

Excel has no time zones, so times are local wall times of the report zone, named in the header
(`period_start (Asia/Dubai)`). Durations are days with `[h]:mm:ss` (totals past 24 h do not wrap),
rates and percentages are fractions with `0.0%`. openpyxl (write-only) writes the workbook and the
header, panes, filter and conditional formatting of each data sheet; the data rows themselves are
streamed in by xlsx_rows, which is what keeps a 100,000-row export to seconds."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ziwo_reports.connectors.files.headline import chart_series, totals
from ziwo_reports.connectors.files.metadata import describe_filters, describe_settings
from ziwo_reports.connectors.files.options import EXCEL_MAX_ROWS, THRESHOLD_RULES, Thresholds, threshold_text
from ziwo_reports.connectors.files.xlsx_rows import FORMULA_START, CellColumn, CellType, sheet_rows, splice_rows
from ziwo_reports.metric_definitions import Definition, Kind, describe
from ziwo_reports.report_model import Report

DATA_SHEETS = {"agent": "Agents", "team": "Teams", "queue": "Queues", "none": "Totals"}
CALL_SHEET = "Calls"
NUMBER_FORMATS: dict[Kind, str] = {
    "duration": "[h]:mm:ss",
    "rate": "0.0%",
    "score": "0.00",
    "count": "#,##0",
    "id": "0",
    "time": "yyyy-mm-dd hh:mm:ss",
}
_UNIX_EPOCH_SERIAL = 25569  # 1970-01-01 as an Excel serial day (1900 date system)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
# Excel's own "light red fill with dark red text".
_FLAG_FILL = PatternFill("solid", fgColor="FFC7CE", bgColor="FFC7CE")
_FLAG_FONT = Font(color="9C0006")
_MIN_WIDTH, _MAX_WIDTH = 6, 60
_KIND_WIDTH = {"duration": 10, "rate": 8, "score": 6, "time": 19, "flag": 6}

_RULES = THRESHOLD_RULES


@dataclass
class SheetColumn:
    """A report column as a data sheet holds it."""

    meaning: Definition
    header: str
    cell_type: CellType
    number_format: str | None
    values: pa.ChunkedArray  # as Excel stores them: serial days, fractions, joined lists
    width: float


def _serial_days(naive: pa.ChunkedArray) -> pa.ChunkedArray:
    """Naive (wall-clock) timestamps as Excel serial days."""
    micros = pc.cast(naive.cast(pa.timestamp("us")), pa.int64())
    return pc.add(pc.divide(pc.cast(micros, pa.float64()), 86_400_000_000.0), float(_UNIX_EPOCH_SERIAL))


def _width(header: str, kind: Kind, cell_type: CellType, values: pa.ChunkedArray) -> float:
    content = _KIND_WIDTH.get(kind, 8)
    if cell_type == "s":
        content = pc.max(pc.utf8_length(values)).as_py() or 0
    elif kind in ("count", "id"):
        largest = pc.max(pc.abs(values)).as_py() or 0
        content = len(f"{largest:,}")
    return float(min(_MAX_WIDTH, max(_MIN_WIDTH, len(header) + 4, content + 2)))  # + 4: the filter button


def excel_columns(report: Report) -> list[SheetColumn]:
    """Each report column converted for Excel, with its header, format and width."""
    zone_name = report.zone.arrow_name
    columns = []
    for field in report.table.schema:
        meaning = describe(report.spec.report, field.name)
        values: Any = report.table[field.name]
        header, cell_type, kind = field.name, "n", meaning.kind
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            joined = pc.binary_join(values, "; ")
            values, cell_type, kind = pc.if_else(pc.equal(joined, ""), None, joined), "s", "text"  # no tags: empty
        elif pa.types.is_timestamp(field.type):
            aware = values if field.type.tz else pc.assume_timezone(values, "UTC")
            values = _serial_days(pc.local_timestamp(aware.cast(pa.timestamp(field.type.unit, tz=zone_name))))
            header, kind = f"{field.name} ({report.zone.label})", "time"
        elif pa.types.is_string(field.type) and kind == "time":
            # period_start/period_end: ISO 8601 in the report zone; the first 19 characters are the wall time
            naive = pc.strptime(pc.utf8_slice_codeunits(values, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s")
            values, header = _serial_days(naive), f"{field.name} ({report.zone.label})"
        elif pa.types.is_boolean(field.type):
            cell_type = "b"
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type):
            if kind == "duration":
                values = pc.divide(pc.cast(values, pa.float64()), 86_400.0)
        else:
            values, cell_type = pc.cast(values, pa.string()), "s"
        if cell_type == "s" and kind != "text":
            kind = "text"
        number_format = NUMBER_FORMATS.get(kind) if cell_type == "n" else None
        width_values = report.table[field.name] if kind in ("count", "id") else values
        columns.append(
            SheetColumn(
                meaning, header, cell_type, number_format, values, _width(header, kind, cell_type, width_values)
            )
        )
    return columns


def _text_cell(ws: Any, value: str, **style: Any) -> WriteOnlyCell:
    """A text cell that stays text: openpyxl would take '=...' for a formula, and Excel would run
    text beginning with = + - @ once someone edits the cell, unless the style has quotePrefix."""
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if re.match(FORMULA_START, value):
        cell.quotePrefix = True
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _cell(ws: Any, value: Any, number_format: str | None = None, **style: Any) -> WriteOnlyCell:
    if isinstance(value, str):
        return _text_cell(ws, value, **style)
    cell = WriteOnlyCell(ws, value=value)
    if number_format:
        cell.number_format = number_format
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _header(ws: Any, values: list[str]) -> list[WriteOnlyCell]:
    return [
        _text_cell(ws, v, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=Alignment(vertical="center")) for v in values
    ]


def _style_id(ws: Any, number_format: str | None, quote: bool = False) -> int:
    """The workbook's cell style id for a number format (or quotePrefix): the rows written by
    xlsx_rows refer to styles by id."""
    if not number_format and not quote:
        return 0
    cell = WriteOnlyCell(ws)
    if number_format:
        cell.number_format = number_format
    if quote:
        cell.quotePrefix = True
    return cell.style_id


def _local(report: Report, instant: datetime) -> datetime:
    return report.zone.local(instant).replace(tzinfo=None)


def _flag_rules(ws: Any, columns: list[SheetColumn], rows: int, thresholds: Thresholds) -> list[str]:
    """Conditional formatting: a cell beyond its threshold, and the group's name on such a row,
    turn red. Returns the checks, worded for the Summary sheet."""
    if rows == 0:
        return []
    letters = {c.meaning.column: get_column_letter(i) for i, c in enumerate(columns, 1)}
    last = rows + 1
    checks, described = [], []
    for column, setting, op, factor in _RULES:
        limit = getattr(thresholds, setting)
        if limit is None or column not in letters:
            continue
        letter, value = letters[column], limit * factor
        checks.append(f"AND(ISNUMBER(${letter}2),${letter}2{op}{value!r})")
        ws.conditional_formatting.add(
            f"{letter}2:{letter}{last}",
            FormulaRule(formula=[checks[-1]], fill=_FLAG_FILL, font=_FLAG_FONT, stopIfTrue=False),
        )
        described.append(f"{column} {op} {threshold_text(setting, limit)}")
    if checks and "group_name" in letters:
        letter = letters["group_name"]
        ws.conditional_formatting.add(
            f"{letter}2:{letter}{last}",
            FormulaRule(formula=[f"OR({','.join(checks)})"], fill=_FLAG_FILL, font=_FLAG_FONT),
        )
    return described


def _data_sheet(
    wb: Workbook, title: str, columns: list[SheetColumn], rows: int, report: Report, thresholds: Thresholds
) -> tuple[Any, list[str]]:
    """A data sheet's frame: widths, frozen header, filter, conditional formatting, header row.
    Its rows come later (xlsx_rows)."""
    ws = wb.create_sheet(title)
    _print_setup(ws)
    for index, column in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    names = [c.meaning.column for c in columns]
    keep = "group_name" if "group_name" in names else "call_id" if "call_id" in names else None
    ws.freeze_panes = f"{get_column_letter(names.index(keep) + 2)}2" if keep else "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"
    checks = _flag_rules(ws, columns, rows, thresholds)
    ws.append(_header(ws, [c.header for c in columns]))
    return ws, checks


def _summary(ws: Any, report: Report, generated_at: datetime, data_titles: list[str], checks: list[str]) -> None:
    """What the report is, its window, filters and headline totals; a chart of calls handled and
    AHT per group (bars) or per period (lines) from a small table under them."""
    zone = report.zone.label
    time_format = NUMBER_FORMATS["time"]
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 30
    ws.column_dimensions["C"].width = 14
    bold = {"font": _HEADER_FONT}
    rows: list[list[Any]] = [
        [_text_cell(ws, report.title, font=Font(bold=True, size=13))],
        [],
        ["Report", report.spec.report],
        ["Instance", report.spec.instance or "all instances"],
        [f"Window start ({zone})", _cell(ws, _local(report, report.window.start), time_format)],
        [f"Window end ({zone}), excluded", _cell(ws, _local(report, report.window.end), time_format)],
        ["Time zone", zone],
        ["Rolling date", report.spec.rolling_date],
        ["Group by", report.spec.group_by or ""],
        ["Interval", report.spec.interval],
        ["Filters", describe_filters(report)],
        ["Settings", describe_settings(report)],
        [f"As of ({zone})", _cell(ws, _local(report, report.as_of), time_format)],
        [f"FCR data held until ({zone})", _cell(ws, _local(report, report.horizon), time_format)],
        [f"Generated at ({zone})", _cell(ws, _local(report, generated_at), time_format)],
        ["Rows", _cell(ws, report.table.num_rows, NUMBER_FORMATS["count"])],
        ["Data sheets", ", ".join(data_titles)],
        [],
        [_text_cell(ws, "Totals", **bold)],
    ]
    for total in totals(report):
        value = total.value
        if value is not None and total.kind == "duration":
            value = value / 86400
        rows.append([total.label, _cell(ws, value, NUMBER_FORMATS.get(total.kind))])
    if checks:
        rows += [[], [_text_cell(ws, "Flagged red on the data sheet", **bold)]]
        rows += [[check] for check in checks]
    series = chart_series(report)
    rows += [[], _header(ws, [series.category.capitalize(), "Calls handled", "AHT"])]
    table_top = len(rows)  # the chart table's header row (1-based)
    for category, handled, aht in zip(series.categories, series.handled, series.aht_s, strict=True):
        rows.append(
            [
                _text_cell(ws, category),
                _cell(ws, handled, NUMBER_FORMATS["count"]),
                _cell(ws, None if aht is None else aht / 86400, NUMBER_FORMATS["duration"]),
            ]
        )
    for row in rows:
        ws.append([_text_cell(ws, v) if isinstance(v, str) else v for v in row])
    if series.categories:
        ws.add_chart(
            _chart(
                ws,
                series.category,
                table_top,
                table_top + len(series.categories),
                by_period=series.category == "period",
            ),
            "E3",
        )


def _chart(ws: Any, category: str, header_row: int, last_row: int, by_period: bool) -> BarChart | LineChart:
    """Calls handled (bars per group, a line per period) with AHT on a second axis."""
    handled: BarChart | LineChart = LineChart() if by_period else BarChart()
    handled.title = f"Calls handled and AHT per {category}"
    handled.add_data(Reference(ws, min_col=2, min_row=header_row, max_row=last_row), titles_from_data=True)
    handled.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=last_row))
    handled.y_axis.title = "Calls handled"
    aht = LineChart()
    aht.add_data(Reference(ws, min_col=3, min_row=header_row, max_row=last_row), titles_from_data=True)
    aht.y_axis.axId = 200
    aht.y_axis.title = "AHT"
    aht.y_axis.number_format = "[h]:mm:ss"
    aht.y_axis.crosses = "max"  # on the right
    aht.y_axis.majorGridlines = None
    for chart in (handled, aht):
        if isinstance(chart, LineChart):
            for series in chart.series:
                series.smooth = False  # LibreOffice draws unset as a curve: show the counts as they are
    for axis in (handled.x_axis, handled.y_axis, aht.y_axis):
        axis.delete = False  # openpyxl 3.1 leaves this unset, and Excel then hides the axes
    handled += aht
    handled.width, handled.height = 24, 12
    return handled


def _definitions(ws: Any, columns: list[SheetColumn], report: Report) -> None:
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 34
    ws.column_dimensions["C"].width = 30
    ws.column_dimensions["D"].width = 10
    ws.column_dimensions["E"].width = 18
    ws.column_dimensions["F"].width = 100
    ws.freeze_panes = "A2"
    ws.append(_header(ws, ["Column", "Header", "Label", "Kind", "Shown as", "Formula"]))
    for column in columns:
        meaning = column.meaning
        shown = column.number_format or ("TRUE/FALSE" if column.cell_type == "b" else "text")
        ws.append(
            [
                _text_cell(ws, v)
                for v in (meaning.column, column.header, meaning.label, meaning.kind, shown, meaning.formula)
            ]
        )
    ws.append([])
    notes = (
        f"Times are wall-clock times in {report.zone.label} (Excel has no time zones); *_local keep the offset.",
        "Durations are shown as [h]:mm:ss; rates (fractions 0..1) as %. docs/metrics.md words every formula.",
        "A ratio whose denominator is zero is empty, never zero.",
    )
    for note in notes:
        ws.append([_text_cell(ws, note)])


def _print_setup(ws: Any, fit_pages_tall: int | None = None) -> None:
    """Landscape; with `fit_pages_tall`, one page wide and that many high (0: as many as it
    takes), so the Summary prints with its chart on one page. (The data sheets' many columns
    would shrink past reading.) Call it before the first row: a write-only sheet writes its
    properties then."""
    ws.page_setup.orientation = "landscape"
    if fit_pages_tall is not None:
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = fit_pages_tall
        ws.sheet_properties.pageSetUpPr.fitToPage = True


def write_xlsx(
    report: Report,
    file: IO[bytes],
    *,
    thresholds: Thresholds | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS,
    generated_at: datetime | None = None,
) -> list[str]:
    """Write the workbook to `file`; returns the data sheets' names. A report longer than
    `max_rows_per_sheet` (header included) goes on over several data sheets: Calls, Calls 2, ..."""
    if not 2 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows_per_sheet {max_rows_per_sheet} is not between 2 and {EXCEL_MAX_ROWS}")
    thresholds = thresholds or Thresholds()
    generated_at = generated_at or datetime.now(UTC)
    columns = excel_columns(report)
    rows_total, per_sheet = report.table.num_rows, max_rows_per_sheet - 1
    base = CALL_SHEET if report.spec.report == "call-details" else DATA_SHEETS.get(report.spec.group_by or "", "Data")

    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Summary")
    _print_setup(summary, fit_pages_tall=1)
    sheets: list[tuple[Any, int, int]] = []  # (sheet, first row of the table, rows)
    checks: list[str] = []
    for index, start in enumerate(range(0, max(rows_total, 1), per_sheet)):
        rows = min(per_sheet, rows_total - start)
        ws, checks = _data_sheet(wb, base if index == 0 else f"{base} {index + 1}", columns, rows, report, thresholds)
        sheets.append((ws, start, rows))
    quote_style = _style_id(summary, None, quote=True)
    cell_columns = [
        CellColumn(
            get_column_letter(i),
            c.cell_type,
            _style_id(summary, c.number_format),
            quote_style if c.cell_type == "s" else 0,
        )
        for i, c in enumerate(columns, 1)
    ]
    _summary(summary, report, generated_at, [ws.title for ws, _, _ in sheets], checks)
    definitions = wb.create_sheet("Definitions")
    _print_setup(definitions, fit_pages_tall=0)
    _definitions(definitions, columns, report)

    shell = io.BytesIO()
    wb.save(shell)
    values = pa.table([c.values for c in columns], names=[c.meaning.column for c in columns])

    def rows_of(start: int, rows: int) -> Iterator[pa.Buffer]:
        return sheet_rows(values.slice(start, rows), cell_columns, first_row=2)

    parts = {ws.path.lstrip("/"): (lambda s=start, r=rows: rows_of(s, r)) for ws, start, rows in sheets}
    shell.seek(0)
    splice_rows(shell, file, parts)
    return [ws.title for ws, _, _ in sheets]
