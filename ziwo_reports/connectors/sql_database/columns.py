"""A report's rows as a SQL table has them: each column's SQL type (from its Arrow type and what the
column means, `metric_definitions.describe`), the values converted for it, and the columns the
delivery adds (the row key, the report's key and window, when it was delivered).

| report column | family | PostgreSQL | MariaDB/MySQL | SQLite |
|---|---|---|---|---|
| the row key | key | VARCHAR(255) primary key | VARCHAR(255) primary key | VARCHAR(255) primary key |
| integers, counts, ids | integer | BIGINT | BIGINT | BIGINT |
| durations (averages rounded) | integer | BIGINT seconds | BIGINT seconds | BIGINT seconds |
| rates, percentages, scores | decimal | NUMERIC(18,6) | DECIMAL(18,6) | NUMERIC |
| text | text | TEXT | TEXT | TEXT |
| instants, period bounds | timestamp | TIMESTAMP WITH TIME ZONE | DATETIME(6), UTC | DATETIME text, UTC |
| flags | boolean | BOOLEAN | BOOL (TINYINT(1)) | BOOLEAN (0/1) |
| tags (lists) | json | JSONB | JSON | JSON text |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from ziwo_reports.metric_definitions import describe
from ziwo_reports.report_model import Report, report_key, row_keys

Family = Literal["key", "integer", "decimal", "text", "timestamp", "boolean", "json", "date"]
#: What a decimal keeps: rates 0..1 and scores to a millionth.
DECIMAL_PRECISION, DECIMAL_SCALE = 18, 6
KEY_LENGTH = 255
#: The columns the delivery adds after the report's own, besides the key column.
META_COLUMNS: tuple[tuple[str, Family], ...] = (
    ("report_key", "text"),
    ("report_window_start", "timestamp"),
    ("report_window_end", "timestamp"),
    ("delivered_at", "timestamp"),
)
DELIVERED_AT = "delivered_at"


@dataclass(frozen=True)
class SqlColumn:
    name: str
    family: Family


def sql_type(family: Family) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type of a family, with each dialect's variant where the generic one falls short."""
    if family == "key":
        return sa.String(KEY_LENGTH)  # MariaDB keys need a length
    if family == "integer":
        return sa.BigInteger()
    if family == "decimal":
        return sa.Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=False)
    if family == "timestamp":
        # MySQL's DATETIME drops the fraction by default: keep the microseconds
        return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    if family == "boolean":
        return sa.Boolean()
    if family == "json":
        return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    if family == "date":
        return sa.Date()
    return sa.Text()


def family_of(report_name: str, field: pa.Field) -> Family:
    kind = describe(report_name, field.name).kind
    t = field.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "json"
    if pa.types.is_timestamp(t) or ((pa.types.is_string(t) or pa.types.is_large_string(t)) and kind == "time"):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "integer" if kind == "duration" else "decimal"  # durations as whole seconds
    return "text"


def compatible(family: Family, reflected: sa.types.TypeEngine[Any], dialect: str) -> bool:
    """Whether an existing column of this reflected type takes the family's values as they are."""
    if isinstance(reflected, sa.types.NullType):
        return True  # a type SQLAlchemy does not know (SQLite's free-form names): nothing to hold against it
    if family in ("key", "text"):
        return isinstance(reflected, sa.String)
    if family == "json":
        return isinstance(reflected, sa.String | sa.JSON)
    if family == "integer":
        return isinstance(reflected, sa.Integer) and not isinstance(reflected, sa.Boolean)
    if family == "decimal":
        return isinstance(reflected, sa.Numeric) and not isinstance(reflected, sa.Integer)
    if family == "boolean":
        return isinstance(reflected, sa.Boolean | sa.Integer)  # MariaDB's BOOL is TINYINT(1)
    if family == "timestamp":
        if not isinstance(reflected, sa.DateTime):
            return False
        # TIMESTAMP WITHOUT TIME ZONE would read the instants back in the session's zone
        return dialect != "postgresql" or bool(getattr(reflected, "timezone", False))
    if family == "date":
        return isinstance(reflected, sa.Date) and not isinstance(reflected, sa.DateTime)
    return False


def type_text(reflected: sa.types.TypeEngine[Any]) -> str:
    try:
        return str(reflected)
    except Exception:
        return type(reflected).__name__


@dataclass
class Rows:
    """A report's rows for the table: the columns (key first, then the report's, then the added
    ones but delivered_at, set when a chunk is written) and the values converted for them."""

    columns: list[SqlColumn]
    table: pa.Table  # one column per `columns`, but delivered_at
    keys: pa.Array


def report_rows(report: Report, key_column: str) -> Rows:
    """The report as rows for the table; ValueError naming a column that clashes with ours, or
    duplicate row keys (an upsert would write the first one over)."""
    table = report.table
    reserved = {key_column, *(name for name, _ in META_COLUMNS)}
    clash = [name for name in table.column_names if name in reserved]
    if clash:
        raise ValueError(
            f"the report's column {clash[0]!r} has the name of a column the delivery adds "
            f"({', '.join(sorted(reserved))})"
        )
    keys = pa.array(row_keys(report), pa.string()) if table.num_rows else pa.array([], pa.string())
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if pc.count_distinct(keys).as_py() != len(keys):
        raise ValueError(f"the report {report.spec.report} has rows with the same row key: an upsert keeps one")
    longest = pc.max(pc.utf8_length(keys)).as_py() if len(keys) else 0
    if longest and longest > KEY_LENGTH:
        raise ValueError(f"a row key is {longest} characters long; the key column holds {KEY_LENGTH}")
    columns = [SqlColumn(key_column, "key")]
    arrays: list[pa.Array | pa.ChunkedArray] = [keys]
    names = [key_column]
    for field, values in zip(table.schema, table.columns, strict=True):
        family = family_of(report.spec.report, field)
        columns.append(SqlColumn(field.name, family))
        arrays.append(_convert(values, field.type, family))
        names.append(field.name)
    rows = table.num_rows
    for name, value in (
        ("report_key", report_key(report)),
        ("report_window_start", report.window.start),
        ("report_window_end", report.window.end),
    ):
        family = dict(META_COLUMNS)[name]
        columns.append(SqlColumn(name, family))
        kind = pa.timestamp("us", tz="UTC") if isinstance(value, datetime) else pa.string()
        arrays.append(pa.repeat(pa.scalar(value, kind), rows))
        names.append(name)
    columns.append(SqlColumn(DELIVERED_AT, "timestamp"))
    return Rows(columns, pa.Table.from_arrays(arrays, names=names), keys)


def _convert(values: pa.ChunkedArray, kind: pa.DataType, family: Family) -> pa.ChunkedArray | pa.Array:
    """One report column as its family stores it (Arrow, vectorised): instants in UTC, durations
    rounded to whole seconds, decimals rounded to the scale, NaN and infinities as NULL."""
    if family == "timestamp":
        if pa.types.is_timestamp(kind):
            aware = values if kind.tz else pc.assume_timezone(values, "UTC")
            return aware.cast(pa.timestamp("us", tz="UTC"))
        return values.cast(pa.timestamp("us", tz="UTC"))  # ISO 8601 text with its offset
    if family in ("integer", "decimal") and (pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        numbers = values.cast(pa.float64())
        numbers = pc.if_else(pc.is_finite(numbers), numbers, pa.scalar(None, pa.float64()))
        if family == "integer":
            return pc.round(numbers).cast(pa.int64())
        return pc.round(numbers, DECIMAL_SCALE)
    if family == "integer":
        return values.cast(pa.int64())
    if family == "text" and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return values.cast(pa.string())
    return values


def for_dialect(table: pa.Table, columns: list[SqlColumn], dialect: str) -> pa.Table:
    """The converted rows as a dialect's driver takes them: PostgreSQL keeps instants with their
    zone and refuses NUL in text; the others store UTC wall times (their DATETIME has no zone)."""
    out = []
    for column, values in zip(columns, table.columns, strict=False):
        if column.family == "timestamp" and dialect != "postgresql":
            values = values.cast(pa.timestamp("us"))
        elif (
            column.family in ("text", "key")
            and dialect == "postgresql"
            # PostgreSQL's text cannot hold NUL; looking costs a scan, replacing a copy of the column
            and pc.any(pc.match_substring(values, "\x00")).as_py()
        ):
            values = pc.replace_substring(values, "\x00", "")
        out.append(values)
    return pa.Table.from_arrays(out, names=table.column_names)
