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
    """Lists as JSON array text (NULL stays NULL), for COPY."""
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values.to_pylist()], pa.string())


def csv_bytes(chunk: pa.Table, columns: list[SqlColumn]) -> pa.Buffer:
    """The chunk as PostgreSQL's CSV COPY reads it: no header, NULL unquoted and empty, an empty
    text quoted (""), instants with their zone (Z), booleans true/false."""
    arrays = []
    for column, values in zip(columns, chunk.columns, strict=True):
        if column.family == "json":
            values = _json_text(values)
        elif column.family == "decimal":
            values = pc.cast(values, pa.float64())
        arrays.append(values)
    table = pa.Table.from_arrays(arrays, names=chunk.column_names)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def copy_rows(
    connection: sa.Connection, table: sa.Table, staging: sa.Table, key: str, chunk: pa.Table, columns: list[SqlColumn]
) -> None:
    from psycopg import sql

    connection.execute(CreateTable(staging, if_not_exists=True))
    raw = connection.connection.driver_connection
    assert raw is not None
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(staging.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in staging.c)
    )
    data = csv_bytes(chunk, columns)
    with raw.cursor() as cursor, cursor.copy(copy) as writer:
        writer.write(memoryview(data))
    connection.execute(upsert_from_staging(table, staging, key))
