"""The target table: its SQLAlchemy model from the report's columns, what the database holds of it
(read-only inspection), the DDL that makes the two agree (CREATE TABLE, ALTER TABLE ... ADD
COLUMN) and each dialect's upsert. Every name is quoted by SQLAlchemy's compiler, never formatted
into SQL by us."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable, ExecutableDDLElement

from ziwo_reports.connectors.sql_database.columns import SqlColumn, compatible, sql_type, type_text

#: The dialects whose own upsert we use.
UPSERT_DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")


class TableMismatch(Exception):
    """The table exists but cannot take the report's rows as they are; one line naming the columns."""


class AddColumn(ExecutableDDLElement):
    """ALTER TABLE <table> ADD COLUMN <column spec>, both quoted by the dialect's compiler
    (SQLAlchemy Core has no such construct; Alembic's is a whole migration framework)."""

    def __init__(self, table: sa.Table, column: sa.Column[Any]) -> None:
        self.table, self.column = table, column


@compiles(AddColumn)
def _add_column(element: AddColumn, compiler: Any, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    return f"ALTER TABLE {table} ADD COLUMN {compiler.get_column_specification(element.column)}"


def table_model(name: str, schema: str | None, columns: list[SqlColumn]) -> sa.Table:
    metadata = sa.MetaData()
    return sa.Table(
        name,
        metadata,
        *(
            sa.Column(c.name, sql_type(c.family), primary_key=c.family == "key", nullable=c.family != "key")
            for c in columns
        ),
        schema=schema,
    )


@dataclass
class TableState:
    """What the database holds of the table, against the columns the report needs."""

    exists: bool
    missing: list[SqlColumn] = field(default_factory=list)  # columns to add
    changed: list[str] = field(default_factory=list)  # "name: TEXT in the table, integer in the report"
    primary_key: list[str] = field(default_factory=list)


def inspect_table(connection: sa.Connection, table: sa.Table, columns: list[SqlColumn]) -> TableState:
    """Read-only: does the table exist, which of our columns it lacks, which differ in type."""
    inspector = sa.inspect(connection)
    if not inspector.has_table(table.name, schema=table.schema):
        return TableState(exists=False)
    dialect = connection.dialect.name
    held = {c["name"]: c["type"] for c in inspector.get_columns(table.name, schema=table.schema)}
    state = TableState(
        exists=True,
        primary_key=list(inspector.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or []),
    )
    for column in columns:
        if column.name not in held:
            state.missing.append(column)
        elif not compatible(column.family, held[column.name], dialect):
            state.changed.append(f"{column.name} ({type_text(held[column.name])} in the table, {column.family} now)")
    return state


def check_state(state: TableState, shown: str, key: str, evolution: str) -> None:
    """TableMismatch when the table cannot take the rows: a changed type (always), a missing column
    with schema_evolution fail, or a primary key other than the key column."""
    if not state.exists:
        return
    if state.changed:
        raise TableMismatch(
            f"table {shown}: the type of {len(state.changed)} column(s) changed since it was created: "
            f"{'; '.join(state.changed)}; change the column or deliver into another table"
        )
    if state.primary_key != [key]:
        held = ", ".join(state.primary_key) or "none"
        raise TableMismatch(f"table {shown}: its primary key is ({held}), not the key column {key!r} an upsert needs")
    if state.missing and evolution == "fail":
        names = ", ".join(c.name for c in state.missing)
        raise TableMismatch(
            f"table {shown} lacks the report's column(s) {names} and schema_evolution is fail; add them, or set "
            "schema_evolution: add_columns"
        )


def ddl_statements(table: sa.Table, state: TableState | None) -> list[ExecutableDDLElement]:
    """What makes the table agree with the report: CREATE TABLE when missing (or unknown), an
    ADD COLUMN per missing column."""
    if state is None or not state.exists:
        return [CreateTable(table, if_not_exists=True)]
    return [AddColumn(table, table.c[column.name]) for column in state.missing]


def upsert_statement(table: sa.Table, key: str, dialect: str) -> Any:
    """INSERT ... with the dialect's own upsert: every column but the key updated on a conflict."""
    others = [c.name for c in table.c if c.name != key]
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
        return stmt.on_conflict_do_update(index_elements=[key], set_={n: stmt.excluded[n] for n in others})
    if dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        return stmt.on_duplicate_key_update({n: stmt.inserted[n] for n in others})
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
        return stmt.on_conflict_do_update(index_elements=[key], set_={n: stmt.excluded[n] for n in others})
    raise TableMismatch(
        f"the {dialect} dialect: no upsert statement this connector knows (PostgreSQL, MariaDB/MySQL and SQLite have)"
    )


def staging_model(table: sa.Table) -> sa.Table:
    """A temporary table like the target (without its key constraint) that empties at each commit:
    a chunk is copied into it, then upserted from it, in one transaction."""
    metadata = sa.MetaData()
    return sa.Table(
        "ziwo_reports_staging",
        metadata,
        *(sa.Column(c.name, c.type) for c in table.c),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DELETE ROWS",
    )


def upsert_from_staging(table: sa.Table, staging: sa.Table, key: str) -> Any:
    """INSERT INTO target (...) SELECT ... FROM staging ON CONFLICT (key) DO UPDATE (PostgreSQL)."""
    names = [c.name for c in table.c]
    stmt = postgresql.insert(table).from_select(names, sa.select(*(staging.c[n] for n in names)))
    return stmt.on_conflict_do_update(index_elements=[key], set_={n: stmt.excluded[n] for n in names if n != key})


def statement_text(statement: Any, dialect: sa.Dialect) -> str:
    return str(statement.compile(dialect=dialect)).strip()
