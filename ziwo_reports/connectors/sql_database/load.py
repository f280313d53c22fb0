"""Writing one chunk of rows, inside the caller's transaction.

- `insert_rows`: the dialect's upsert executed for the chunk's rows (the driver batches them into
  multi-row statements: PyMySQL rewrites executemany into INSERT ... VALUES (...), (...); sqlite3
  and psycopg run them prepared).
- `copy_rows` (PostgreSQL with psycopg): the chunk as CSV (written by Arrow's C++ writer) COPYed
  into a temporary staging table, then INSERT ... SELECT ... ON CONFLICT DO UPDATE into the
  target: what fast loaders do, a few times faster than row-by-row statements.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from ziwo_reports.connectors.sql_database.columns import SqlColumn
from ziwo_reports.connectors.sql_database.table import upsert_from_staging


def insert_rows(connection: sa.Connection, statement: Any, chunk: pa.Table) -> None:
    connection.execute(statement, chunk.to_pylist())


def _json_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lists of text as JSON array text (a NULL list stays NULL), built by Arrow; orjson per row
    when an element holds a control character (JSON escapes those as \\u00XX)."""
    lists = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_string(lists.type.value_type):
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in lists.to_pylist()], pa.string())
    offsets = lists.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    items = lists.values.slice(first, last - first)  # the elements of these lists only (a slice has more)
    if pc.any(pc.match_substring_regex(items, "[\\x00-\\x1f]")).as_py():
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in lists.to_pylist()], pa.string())
    escaped = pc.replace_substring(pc.replace_substring(items, "\\", "\\\\"), '"', '\\"')
    quoted = pc.if_else(pc.is_null(items), "null", pc.binary_join_element_wise('"', escaped, '"', ""))
    rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
    rebuilt = pa.ListArray.from_arrays(rebased, quoted, mask=lists.is_null())
    return pc.binary_join_element_wise("[", pc.binary_join(rebuilt, ","), "]", "")


def csv_bytes(chunk: pa.Table, columns: list[SqlColumn]) -> pa.Buffer:
    """The chunk as PostgreSQL's CSV COPY reads it: no header, NULL unquoted and empty, an empty
    text quoted (""), instants with their zone (Z), booleans true/false."""
    arrays = []
    for column, values in zip(columns, chunk.columns, strict=True):
        if column.family == "json":
            values = _json_text(values)
        elif column.family == "decimal":
            values = pc.cast(values, pa.float64())
        elif column.family == "timestamp" and pa.types.is_timestamp(values.type):
            # Arrow formats a zoned instant about 30x slower than a wall time: UTC wall time, then +00
            wall = values.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")).cast(pa.string())
            values = pc.binary_join_element_wise(wall, "+00", "")
        arrays.append(values)
    table = pa.Table.from_arrays(arrays, names=chunk.column_names)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def copy_rows(connection: sa.Connection, table: sa.Table, staging: sa.Table, key: str, data: pa.Buffer) -> None:
    """COPY the chunk's CSV (`csv_bytes`) into the staging table, then upsert from it."""
    from psycopg import sql

    connection.execute(CreateTable(staging, if_not_exists=True))
    raw = connection.connection.driver_connection
    assert raw is not None
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(staging.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in staging.c)
    )
    with raw.cursor() as cursor, cursor.copy(copy) as writer:
        writer.write(memoryview(data))
    connection.execute(upsert_from_staging(table, staging, key))
