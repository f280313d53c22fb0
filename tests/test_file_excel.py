"""Excel workbooks of real reports, read back with openpyxl."""

from __future__ import annotations

from datetime import datetime, timedelta

import openpyxl
import pytest

from tests.file_reports import AT_TAG, EVIL_NAME, EVIL_TAG, hostile_reports, simulator_reports
from ziwo_reports.connectors.files import Thresholds, write_report_files
from ziwo_reports.metric_definitions import definition


def workbook(report, tmp_path, **options):
    options.setdefault("template", "{report}_{interval}.{ext}")
    (written,) = write_report_files(report, formats=["xlsx"], destination=tmp_path, **options)
    assert written.format == "xlsx" and written.rows == report.table.num_rows and written.bytes > 0
    return openpyxl.load_workbook(written.path)


def header_index(ws):
    return {cell.value.split(" (")[0]: cell.column for cell in ws[1]}


def local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=None)


def assert_row_equal(report, row, cells, columns):
    """A data-sheet row holds the report row: durations back to seconds within rounding, rates as
    the fractions they are with a percentage format, times as local wall times, tags joined."""
    for name, value in row.items():
        cell = cells[columns[name] - 1]
        kind = definition(report.spec.report, name).kind
        if value is None or value == []:
            assert cell.value is None, name
        elif kind == "duration":
            assert cell.number_format == "[h]:mm:ss" and isinstance(cell.value, timedelta), name
            assert cell.value.total_seconds() == pytest.approx(value, abs=1), name
        elif kind == "rate":
            assert cell.number_format == "0.0%" and cell.value == pytest.approx(value), name
            assert 0 <= value <= 1, name
        elif kind == "time" and isinstance(value, str):
            assert cell.value == local(value), name
        elif kind == "time":
            assert cell.value == report.zone.local(value).replace(tzinfo=None), name
        elif isinstance(value, list):
            assert cell.value == "; ".join(value), name
        elif isinstance(value, float):
            assert cell.value == pytest.approx(value), name
        else:
            assert cell.value == value, name


def test_agent_workbook_summary_data_and_definitions(tmp_path):
    report = simulator_reports()["agent-performance"]
    wb = workbook(report, tmp_path)
    assert wb.sheetnames == ["Summary", "Agents", "Definitions"]

    ws = wb["Agents"]
    columns = header_index(ws)
    assert list(columns) == report.table.column_names
    assert ws.cell(1, columns["period_start"]).value == "period_start (Asia/Dubai)"
    assert all(cell.font.b for cell in ws[1])
    assert ws.freeze_panes == "D2"  # header and the group's name stay in view
    last = openpyxl.utils.get_column_letter(len(columns))
    assert ws.auto_filter.ref == f"A1:{last}{report.table.num_rows + 1}"
    assert ws.column_dimensions["C"].width >= max(len(n) for n in report.table["group_name"].to_pylist())
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == report.table.num_rows
    for row, cells in zip(report.table.to_pylist(), rows, strict=True):
        assert_row_equal(report, row, cells, columns)
    first = rows[0]
    assert first[columns["transfer_rate"] - 1].number_format == "0.0%"
    assert first[columns["avg_handle_time_s"] - 1].number_format == "[h]:mm:ss"
    assert first[columns["csat_avg"] - 1].number_format == "0.00"

    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Instance"] == "sim" and summary["Time zone"] == "Asia/Dubai"
    assert summary["Window start (Asia/Dubai)"] == report.zone.local(report.window.start).replace(tzinfo=None)
    assert summary["Window end (Asia/Dubai), excluded"] == datetime(2026, 11, 20)
    assert summary["Calls handled"] == sum(report.table["calls_handled"].to_pylist())
    talk, hold, wrap = (
        sum(report.table[c].to_pylist()) for c in ("total_talk_time_s", "total_hold_time_s", "total_wrap_up_time_s")
    )
    assert summary["Average handle time (AHT)"].total_seconds() == pytest.approx(
        (talk + hold + wrap) / summary["Calls handled"], abs=1
    )
    fcr = [sum(report.table[c].to_pylist()) for c in ("fcr_resolved", "fcr_eligible", "fcr_pending")]
    assert summary["FCR rate"] == pytest.approx(fcr[0] / (fcr[1] - fcr[2]))
    assert 1 <= summary["CSAT average"] <= 5 and isinstance(summary["Generated at (Asia/Dubai)"], datetime)

    # Printed (or turned into a PDF): the Summary and its chart on one landscape page.
    setup = wb["Summary"].page_setup
    assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 1)
    assert wb["Summary"].sheet_properties.pageSetUpPr.fitToPage

    (chart,) = wb["Summary"]._charts
    assert type(chart).__name__ == "BarChart" and {type(c).__name__ for c in chart._charts} == {"BarChart", "LineChart"}

    definitions = list(wb["Definitions"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in definitions[: len(columns)]] == report.table.column_names
    aht = next(row for row in definitions if row[0] == "avg_handle_time_s")
    assert aht[3] == "duration" and aht[4] == "[h]:mm:ss" and "÷ calls_handled" in aht[5]


def test_agents_beyond_the_thresholds_are_flagged(tmp_path):
    report = simulator_reports()["agent-performance"]
    ws = workbook(report, tmp_path)["Agents"]
    columns = header_index(ws)
    letter = {name: openpyxl.utils.get_column_letter(i) for name, i in columns.items()}
    rules = {str(cf.sqref): cf.rules[0] for cf in ws.conditional_formatting}
    last = report.table.num_rows + 1
    aht = rules[f"{letter['avg_handle_time_s']}2:{letter['avg_handle_time_s']}{last}"]
    assert aht.formula == [
        f"AND(ISNUMBER(${letter['avg_handle_time_s']}2),${letter['avg_handle_time_s']}2>{600 / 86400!r})"
    ]
    assert aht.dxf.fill.fgColor.rgb.endswith("FFC7CE")
    assert f"{letter['csat_avg']}2:{letter['csat_avg']}{last}" in rules
    assert f"{letter['fcr_rate']}2:{letter['fcr_rate']}{last}" in rules
    assert rules[f"{letter['group_name']}2:{letter['group_name']}{last}"].formula[0].startswith("OR(")

    stricter = workbook(report, tmp_path / "b", thresholds=Thresholds(aht_above_s=None, csat_below=3.5, fcr_below=None))
    formulas = [cf.rules[0].formula[0] for cf in stricter["Agents"].conditional_formatting]
    assert not any(f"${letter['avg_handle_time_s']}2" in f for f in formulas)
    assert any(f.endswith("<3.5)") for f in formulas)


def test_queue_workbook_flags_service_level_and_shows_percentages(tmp_path):
    report = simulator_reports()["queue-performance"]
    wb = workbook(report, tmp_path, thresholds={"service_level_below": 0.9, "abandon_rate_above": 0.05})
    assert wb.sheetnames == ["Summary", "Queues", "Definitions"]
    ws = wb["Queues"]
    columns = header_index(ws)
    for row, cells in zip(report.table.to_pylist(), ws.iter_rows(min_row=2), strict=True):
        assert_row_equal(report, row, cells, columns)
    formulas = [cf.rules[0].formula[0] for cf in ws.conditional_formatting]
    assert any(f.endswith("<0.9)") for f in formulas) and any(f.endswith(">0.05)") for f in formulas)
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row[0]}
    abandoned, offered = (sum(report.table[c].to_pylist()) for c in ("calls_abandoned", "calls_offered"))
    assert summary["Abandon rate"] == pytest.approx(abandoned / offered) and 0 <= summary["Service level %"] <= 1


def test_an_interval_report_charts_the_trend(tmp_path):
    report = simulator_reports()["agent-performance-daily"]
    wb = workbook(report, tmp_path)
    # Printed (or turned into a PDF): the Summary and its chart on one landscape page.
    setup = wb["Summary"].page_setup
    assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 1)
    assert wb["Summary"].sheet_properties.pageSetUpPr.fitToPage

    (chart,) = wb["Summary"]._charts
    assert {type(c).__name__ for c in chart._charts} == {"LineChart"}
    trend = [row for row in wb["Summary"].iter_rows(values_only=True) if row[0] and str(row[0]).startswith("2026-11-")]
    days = sorted({p[:10] for p in report.table["period_start"].to_pylist()})
    assert [row[0][:10] for row in trend] == days
    assert sum(row[1] for row in trend) == sum(report.table["calls_handled"].to_pylist())


def test_call_details_split_across_sheets(tmp_path):
    report = simulator_reports()["call-details"]
    wb = workbook(report, tmp_path, max_rows_per_sheet=101)
    pages = -(-report.table.num_rows // 100)
    assert wb.sheetnames == ["Summary", "Calls", *[f"Calls {n}" for n in range(2, pages + 1)], "Definitions"]
    columns = header_index(wb["Calls"])
    assert wb["Calls"].cell(1, columns["started_at"]).value == "started_at (Asia/Dubai)"
    rows = [cells for name in wb.sheetnames[1:-1] for cells in wb[name].iter_rows(min_row=2)]
    assert len(list(wb["Calls"].iter_rows(min_row=2))) == 100
    assert len(rows) == report.table.num_rows
    for row, cells in zip(report.table.to_pylist(), rows, strict=True):
        assert_row_equal(report, row, cells, columns)
    assert wb["Calls 2"].auto_filter.ref.startswith("A1:") and wb["Calls 2"].freeze_panes == "C2"


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    details = hostile_reports()["call-details"]
    ws = workbook(details, tmp_path)["Calls"]
    columns = header_index(ws)
    cells = {row[columns["call_id"] - 1].value: row for row in ws.iter_rows(min_row=2)}
    tags, name = cells["c5"][columns["tags"] - 1], cells["c2b"][columns["agent_name"] - 1]
    assert (tags.value, tags.data_type, tags.quotePrefix) == (AT_TAG, "s", True)
    assert (name.value, name.data_type, name.quotePrefix) == (EVIL_NAME, "s", True)
    assert cells["c1"][columns["tags"] - 1].value == f"vip; {EVIL_TAG}"
    assert cells["c1"][columns["agent_name"] - 1].quotePrefix is False

    wb = workbook(hostile_reports()["agent-performance"], tmp_path)
    categories = [row[0] for row in wb["Summary"].iter_rows() if row[0].value == EVIL_NAME]
    assert categories and all(c.data_type == "s" and c.quotePrefix for c in categories)


def test_an_empty_report_an_offset_zone_and_hourly_totals(tmp_path):
    empty = hostile_reports()["empty"]
    wb = workbook(empty, tmp_path)
    assert wb.sheetnames == ["Summary", "Agents", "Definitions"]
    assert [c.value for c in wb["Agents"][1]][:3] == ["instance", "group_id", "group_name"]
    assert list(wb["Agents"].iter_rows(min_row=2)) == [] and not wb["Summary"]._charts

    calls = hostile_reports()["offset-calls"]
    ws = workbook(calls, tmp_path)["Calls"]
    columns = header_index(ws)
    assert ws.cell(1, columns["started_at"]).value == "started_at (UTC-12:00)"
    for row, cells in zip(calls.table.to_pylist(), ws.iter_rows(min_row=2), strict=True):
        assert_row_equal(calls, row, cells, columns)

    totals = hostile_reports()["queue-totals-hourly"]
    wb = workbook(totals, tmp_path)
    assert wb.sheetnames == ["Summary", "Totals", "Definitions"]
    columns = header_index(wb["Totals"])
    for row, cells in zip(totals.table.to_pylist(), wb["Totals"].iter_rows(min_row=2), strict=True):
        assert_row_equal(totals, row, cells, columns)


def test_changed_settings_show_on_the_summary_that_the_definitions_point_to(tmp_path):
    import dataclasses

    from ziwo_reports.report_model import MetricSettings

    report = simulator_reports()["queue-performance"]
    settings = MetricSettings(short_abandon_s=5, service_level_s=30)
    changed = dataclasses.replace(report, spec=report.spec.model_copy(update={"settings": settings}))
    wb = workbook(changed, tmp_path)
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Settings"] == "short_abandon_s: 5; service_level_s: 30"
    formulas = {row[0]: row[5] for row in wb["Definitions"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert "short_abandon_s setting" in formulas["short_abandoned"]
    assert "service_level_s setting" in formulas["service_level_rate"]


def test_a_service_level_threshold_written_as_a_percentage_is_refused_with_the_fraction_to_write():
    from pydantic import ValidationError

    from ziwo_reports.connectors.files.options import Thresholds

    with pytest.raises(ValidationError, match=r"service_level_below 80 looks like a percentage.*\(write 0\.8\)"):
        Thresholds(service_level_below=80)
    assert Thresholds(service_level_below=1).service_level_below == 1  # 100%: a fraction still
    assert Thresholds().service_level_below == 0.8
