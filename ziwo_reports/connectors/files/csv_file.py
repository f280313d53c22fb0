"""The report as CSV for people who open it in Excel: UTF-8 with a byte-order mark, ISO 8601
times with their offset, lists as 'a; b', and text that a spreadsheet would run as a formula made
inert. Arrow converts and writes the columns a batch at a time, so 100,000 rows take a moment."""

from __future__ import annotations

from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ziwo_reports.connectors.files.xlsx_rows import FORMULA_START
from ziwo_reports.report_model import Report, iso_times

BOM = b"\xef\xbb\xbf"
_BATCH_ROWS = 65_536
# A signed number, or a phone number written with spaces: never a formula that does anything, and
# `'` in front of it would spoil it for every program reading the file, so it is left alone.
_NUMBER_TEXT = r"^[+-]?[0-9][0-9 ]*(\.[0-9]+)?$"


def neutralise(text: pa.Array) -> pa.Array:
    """Text beginning with = + - @ tab or CR gets a leading `'`, which spreadsheets show as text
    instead of running (OWASP CSV injection); numbers written as text are left as they are."""
    risky = pc.and_(
        pc.match_substring_regex(text, FORMULA_START), pc.invert(pc.match_substring_regex(text, _NUMBER_TEXT))
    )
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


def csv_columns(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """The columns as CSV carries them: lists joined with '; ', timestamps as ISO text, text
    neutralised; numbers and booleans unchanged."""
    columns, names = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            values = neutralise(pc.binary_join(values, "; "))
        elif pa.types.is_timestamp(field.type):
            values = iso_times(values)
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = neutralise(values)
        columns.append(values)
        names.append(field.name)
    return pa.table(columns, names=names)


def write_csv(report: Report, file: IO[bytes], *, bom: bool = True, eol: str = "\r\n") -> None:
    """Every column of the report, a header line first (RFC 4180: CRLF line ends by default)."""
    if bom:
        file.write(BOM)
    options = pa_csv.WriteOptions(eol=eol, quoting_header="none")  # column names are snake_case
    prepared = (csv_columns(batch) for batch in report.table.to_batches(max_chunksize=_BATCH_ROWS))
    first = next(prepared, None)
    if first is None:  # no rows: the header alone
        first = csv_columns(report.table.slice(0, 0))
    with pa_csv.CSVWriter(file, first.schema, write_options=options) as writer:
        writer.write_table(first)
        for part in prepared:
            writer.write_table(part)
