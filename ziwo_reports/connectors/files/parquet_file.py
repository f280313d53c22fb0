"""The report as Parquet: typed columns (durations as integer seconds, averages rounded; timestamps
in UTC with their zone; tags as a list), each column's label, kind and formula in its field
metadata, and the report's metadata envelope in the schema metadata."""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ziwo_reports.connectors.files.metadata import report_metadata
from ziwo_reports.metric_definitions import describe
from ziwo_reports.report_model import Report

#: The schema metadata key holding the report's metadata (JSON).
METADATA_KEY = b"ziwo_reports"


def write_parquet(report: Report, file: IO[bytes], *, generated_at: datetime | None = None) -> None:
    table = report.table
    fields, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        meaning = describe(report.spec.report, field.name)
        if meaning.kind == "duration" and pa.types.is_floating(field.type):  # an average: whole seconds
            column = pc.round(column).cast(pa.int64())
            field = field.with_type(pa.int64())
        columns.append(column)
        unit = {"duration": "s", "rate": "fraction 0-1"}.get(meaning.kind, "")
        notes = {"label": meaning.label, "kind": meaning.kind, "formula": meaning.formula, "unit": unit}
        fields.append(field.with_metadata({k: v for k, v in notes.items() if v}))
    metadata = {METADATA_KEY: json.dumps(report_metadata(report, generated_at), ensure_ascii=False).encode()}
    schema = pa.schema(fields, metadata=metadata)
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), file, compression="zstd")
