"""The rows of a report that a workflow's conditions keep (and those they drop), each under the key
it has in the full report; conditions may test the headline totals as `totals.<name>`, a column
of one repeated value that never reaches a delivery."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pyarrow as pa

from ziwo_reports.connectors.files.headline import totals
from ziwo_reports.report_model import Report, row_keys
from ziwo_reports.workflows.conditions import filter_table, parse

_ROW = "__workflow_row"  # the row's place in the full table, to keep its key through the filter


def _with_totals(report: Report) -> pa.Table:
    """The report's table with each headline total as a column `totals.<name>`, one value repeated."""
    table = report.table
    rows = table.num_rows
    for total in totals(report):
        dtype = pa.int64() if total.kind == "count" else pa.float64()
        table = table.append_column(f"totals.{total.name}", pa.array([total.field_value] * rows, dtype))
    return table


def split_report(report: Report, conditions, *, with_totals: bool) -> tuple[Report, Report]:
    """The report's rows the conditions keep and those they drop, as two reports, each row under the
    key it has in the full report. Conditions on `totals.<name>` need `with_totals`."""
    keys = row_keys(report)
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    if conditions is None:
        return replace(report, keys=keys), replace(report, table=report.table.slice(0, 0), keys=keys.slice(0, 0))
    table = _with_totals(report) if with_totals else report.table
    table = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))

    def rows(part: pa.Table) -> Report:
        places = part[_ROW].combine_chunks() if part.num_rows else pa.array([], pa.int64())
        return replace(report, table=report.table.take(places), keys=keys.take(places))

    kept, dropped = filter_table(table, conditions)
    return rows(kept), rows(dropped)


def keep_rows(report: Report, conditions, *, with_totals: bool) -> Report:
    """The report with only the rows the conditions keep, each under the key it has in the full report,
    and the conditions recorded on it (`kept_by`), so that a replay from the ledger keeps the same rows."""
    if conditions is None:
        return report
    kept = split_report(report, conditions, with_totals=with_totals)[0]
    kept.kept_by = {"conditions": parse(conditions).model_dump(mode="json"), "with_totals": with_totals}
    return kept


def keep_again(report: Report, kept_by: dict[str, Any]) -> Report:
    """The rows `keep_rows` kept, from the same report computed again (a replay)."""
    return keep_rows(report, kept_by["conditions"], with_totals=bool(kept_by.get("with_totals")))
