"""One meaning per column, said four times: ziwo_reports/metric_definitions.py (which the Excel
Definitions sheet is written from), docs/metrics.md, and the headline totals. These tests keep the
four in agreement: the same columns, formulas built from the same columns, the same labels and kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import golden
from ziwo_reports.connectors.files.excel import write_xlsx
from ziwo_reports.connectors.files.headline import totals
from ziwo_reports.metric_definitions import definition, definitions
from ziwo_reports.warehouse import open_warehouse

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text(encoding="utf-8")
#: Columns every row carries, documented once under "Windows and intervals".
ROW_COLUMNS = {"instance", "group_id", "group_name", "period_start", "period_end", "timezone"}


@pytest.fixture(scope="module")
def reports():
    with open_warehouse(":memory:") as warehouse:
        golden.load(warehouse)
        return {
            name: golden.report_of(warehouse, name, interval="none")
            for name in ("agent-performance", "queue-performance", "call-details")
        }


def documented(report: str) -> list[tuple[list[str], str]]:
    """The rows of a report's table in docs/metrics.md: (the columns it names, its formula)."""
    section = DOCS.split(f"\n## {report}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            _, names, formula, _ = line.split("|")
            rows.append((re.findall(r"`([a-z0-9_]+)`", names), formula))
    return rows


def referenced(text: str, columns: set[str]) -> set[str]:
    """The report columns a formula is built from."""
    return {word for word in re.findall(r"[a-z][a-z0-9_]*", text) if word in columns}


@pytest.mark.parametrize("report", ["agent-performance", "queue-performance"])
def test_docs_name_every_column_of_the_report_and_build_each_formula_from_the_same_columns(reports, report):
    columns = set(reports[report].table.column_names)
    rows = documented(report)
    named = [name for names, _ in rows for name in names]
    assert sorted(named) == sorted(columns - ROW_COLUMNS), "docs/metrics.md and the report's columns differ"
    for names, formula in rows:
        in_docs = referenced(formula, columns) - set(names)
        in_code = set().union(*(referenced(definition(report, n).formula, columns) for n in names)) - set(names)
        assert in_docs == in_code, (names, formula)


@pytest.mark.parametrize("report", ["agent-performance", "queue-performance"])
def test_headline_totals_take_their_column_s_label_and_kind(reports, report):
    computed = reports[report]
    shown = [t for t in totals(computed) if t.name in computed.table.column_names]
    assert len(shown) >= 3
    for total in shown:
        meaning = definition(report, total.name)
        assert (total.label, total.kind) == (meaning.label, meaning.kind), total.name
        if total.kind == "rate" and total.value is not None:
            assert 0 <= total.field_value <= 1, total  # one scale: a fraction, as the column


@pytest.mark.parametrize("report", ["agent-performance", "queue-performance"])
def test_the_excel_definitions_sheet_is_metric_definitions(reports, report, tmp_path):
    from openpyxl import load_workbook

    computed = reports[report]
    path = tmp_path / "r.xlsx"
    with path.open("wb") as file:
        write_xlsx(computed, file)
    sheet = load_workbook(path, read_only=True)["Definitions"]
    rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if len(row) > 5 and row[5]]
    expected = definitions(report, computed.table.column_names)
    assert [(r[0], r[2], r[3], r[5]) for r in rows] == [(d.column, d.label, d.kind, d.formula) for d in expected]
