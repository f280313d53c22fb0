"""A relational database as a delivery (type `sql`), through SQLAlchemy 2.

The report's rows go into one table, keyed by each row's stable key (`row_keys`): a rerun of the
period updates the same rows and never duplicates them. Before the first chunk the table is made
to agree with the report: created when missing (typed from the report's columns, see
columns.py), a new report column added with `schema_evolution: add_columns`, anything else (a
changed type, a missing column with `fail`, another primary key) refused with the columns named,
every chunk then failed in the ledger with that message, for `replay` once the table is fixed.

The rows are written in chunks of `chunk_rows`, one transaction each, each chunk an item of the
ledger with its row keys: a crash or a refused chunk leaves the chunks before it committed and
none half-written, and a replay sends only the chunks that failed. PostgreSQL with psycopg loads
a chunk by COPY into a temporary staging table and INSERT ... ON CONFLICT DO UPDATE from it; the
other dialects execute their own upsert (ON DUPLICATE KEY UPDATE, SQLite's ON CONFLICT).

A test send (`test: true`, `workflow test --send-test`) goes into `<table>_test`, never the real table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    Item,
    ItemResult,
    Plan,
    register,
    sample_rows,
    table_hash,
    validate_options,
)
from ziwo_reports.connectors.secrets import CredentialsError
from ziwo_reports.connectors.sql_database import load
from ziwo_reports.connectors.sql_database.columns import DELIVERED_AT, Rows, for_dialect, report_rows
from ziwo_reports.connectors.sql_database.connection import Connection, connection_of
from ziwo_reports.connectors.sql_database.options import SqlTarget
from ziwo_reports.connectors.sql_database.table import (
    UPSERT_DIALECTS,
    TableMismatch,
    TableState,
    check_state,
    ddl_statements,
    inspect_table,
    staging_model,
    statement_text,
    table_model,
    upsert_from_staging,
    upsert_statement,
)
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, report_key

KIND = "sql"
#: Characters of the database's message kept in an item's error.
ERROR_CHARS = 500
#: Seconds a connection attempt may take, unless the block's connect_args say otherwise.
CONNECT_TIMEOUT_S = 10


def database_error(problem: BaseException) -> str:
    """The database's own message, one line, redacted; never SQLAlchemy's statement and parameters
    (the rows themselves)."""
    original = getattr(problem, "orig", None) or problem
    text = str(original).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # the first line says what went wrong; psycopg's DETAIL on the next may hold a row's values
    message = lines[0] if lines else type(original).__name__
    return redact(f"{type(original).__name__}: {message}")[:ERROR_CHARS]


@dataclass(frozen=True)
class _Chunk:
    key: str
    start: int
    stop: int


class SqlDelivery:
    """See the module's docstring."""

    type: ClassVar[str] = KIND

    def __init__(self, options: SqlTarget) -> None:
        self.options = options
        self._built: tuple[Report, Rows] | None = None

    def validate(self) -> None:
        validate_options(self.options)

    # --- the connection --------------------------------------------------------------------------

    def _connection(self) -> Connection:
        connection = connection_of(self.options)
        args = dict(connection.connect_args)
        if connection.dialect in ("postgresql", "mysql", "mariadb"):
            args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        return Connection(connection.url, args)

    def _sqlite_file(self, connection: Connection) -> Path | None:
        """The SQLite database file, when the URL names one (not :memory:)."""
        if connection.dialect != "sqlite":
            return None
        database = connection.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    def _table(self, rows: Rows) -> sa.Table:
        return table_model(self.options.table_name, self.options.db_schema, rows.columns)

    def _where(self, connection: Connection) -> str | None:
        """What is wrong with the target before anything is asked of it (no I/O)."""
        dialect = connection.dialect
        if dialect not in UPSERT_DIALECTS:
            return (
                f"the {dialect} dialect: no upsert statement this connector knows (PostgreSQL, MariaDB/MySQL, SQLite)"
            )
        if dialect == "sqlite" and self.options.db_schema:
            return f"schema {self.options.db_schema!r}: SQLite has no schemas (attached databases are not supported)"
        return None

    def _schema_exists(self, connection: sa.Connection) -> bool:
        schema = self.options.db_schema
        return schema is None or sa.inspect(connection).has_schema(schema)

    # --- check ------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Read-only: can the database be reached, does the table exist (and take our rows' key),
        or may it be created there."""
        options = self.options
        try:
            connection = self._connection()
        except CredentialsError as problem:
            return CheckResult(False, f"{KIND} {options.target_name}: {problem}")
        problem = self._where(connection)
        if problem:
            return CheckResult(False, f"{KIND} {options.target_name}: {problem}")
        sqlite_file = self._sqlite_file(connection)
        if sqlite_file is not None and not sqlite_file.exists():
            folder = sqlite_file.parent
            if not folder.is_dir():
                return CheckResult(False, f"{KIND} {options.target_name}: the folder {folder} does not exist")
            return CheckResult(True, f"{KIND} {options.target_name}: {sqlite_file} will be created with the table")
        engine = connection.engine()
        try:
            with engine.connect() as conn:
                return self._check_table(conn)
        except sa_exc.SQLAlchemyError as problem:
            return CheckResult(False, f"{KIND} {options.target_name}: {database_error(problem)}")
        finally:
            engine.dispose()

    def _check_table(self, conn: sa.Connection) -> CheckResult:
        options, name = self.options, f"{KIND} {self.options.target_name}"
        if not self._schema_exists(conn):
            return CheckResult(False, f"{name}: schema {options.db_schema!r} does not exist; create it first")
        inspector = sa.inspect(conn)
        shown = options.shown_table
        if not inspector.has_table(options.table_name, schema=options.db_schema):
            if conn.dialect.name == "postgresql":
                allowed = conn.execute(
                    sa.text("SELECT has_schema_privilege(coalesce(:schema, current_schema()), 'CREATE')"),
                    {"schema": options.db_schema},
                ).scalar()
                if not allowed:
                    return CheckResult(False, f"{name}: table {shown} is missing and this login may not create it")
            return CheckResult(True, f"{name}: table {shown} is missing; it will be created from the report's columns")
        key = inspector.get_pk_constraint(options.table_name, schema=options.db_schema).get("constrained_columns")
        if list(key or []) != [options.key_column]:
            return CheckResult(
                False,
                f"{name}: table {shown} has primary key ({', '.join(key or []) or 'none'}), not {options.key_column!r}",
            )
        if conn.dialect.name == "postgresql":
            # the names as bound values, looked up in the catalog: no quoting of ours anywhere
            allowed = conn.execute(
                sa.text(
                    "SELECT bool_and(has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'UPDATE')) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema())"
                ),
                {"table": options.table_name, "schema": options.db_schema},
            ).scalar()
            if not allowed:
                return CheckResult(False, f"{name}: this login may not insert into and update table {shown}")
        columns = len(inspector.get_columns(options.table_name, schema=options.db_schema))
        return CheckResult(True, f"{name}: table {shown} exists ({columns} columns, primary key {options.key_column})")

    # --- plan -------------------------------------------------------------------------------------

    def _rows(self, report: Report) -> Rows:
        if self._built is None or self._built[0] is not report:
            try:
                self._built = (report, report_rows(report, self.options.key_column))
            except ValueError as problem:
                raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None
        return self._built[1]

    def _chunks(self, report: Report, rows: Rows) -> list[_Chunk]:
        total, size = rows.table.num_rows, self.options.chunk_rows
        base = report_key(report)
        return [
            _Chunk(f"{base}:rows {start + 1}-{min(start + size, total)} of {total}", start, min(start + size, total))
            for start in range(0, total, size)
        ]

    def plan(self, report: Report) -> Plan:
        """Every chunk it would upsert, and the statements it would run: the table's DDL when it is
        missing or lacks columns, the upsert. Reads what the database holds of the table; writes nothing."""
        options = self.options
        rows = self._rows(report)
        keys = rows.keys.to_pylist()
        items = []
        for chunk in self._chunks(report, rows):
            part = rows.table.slice(chunk.start, chunk.stop - chunk.start)
            items.append(
                Item(
                    key=chunk.key,
                    target=options.shown_table,
                    method="upsert",
                    rows=chunk.stop - chunk.start,
                    payload_hash=table_hash(part),
                    row_keys=tuple(keys[chunk.start : chunk.stop]),
                    sample=sample_rows(part),
                )
            )
        return Plan(KIND, options.target_name, items, requests=self._statements(rows, len(items)))

    def _statements(self, rows: Rows, chunks: int) -> list[dict[str, Any]]:
        table = self._table(rows)
        try:
            connection = self._connection()
        except CredentialsError as problem:
            return [{"note": f"the statements depend on the database: {problem}"}]
        where = self._where(connection)
        if where:
            return [{"note": where}]
        dialect = connection.engine().dialect
        state: TableState | None = None
        note = None
        sqlite_file = self._sqlite_file(connection)
        if sqlite_file is not None and not sqlite_file.exists():
            state = TableState(exists=False)
        else:
            engine = connection.engine()
            try:
                with engine.connect() as conn:
                    state = inspect_table(conn, table, rows.columns)
            except sa_exc.SQLAlchemyError as problem:
                note = f"the table could not be inspected ({database_error(problem)}): CREATE TABLE IF NOT EXISTS shown"
            finally:
                engine.dispose()
        shown: list[dict[str, Any]] = [{"note": note}] if note else []
        if state is not None:
            try:
                check_state(state, self.options.shown_table, self.options.key_column, self.options.schema_evolution)
            except TableMismatch as problem:
                return [*shown, {"note": f"nothing can be written: {problem}"}]
        for ddl in ddl_statements(table, state):
            shown.append({"method": "DDL", "statement": statement_text(ddl, dialect)})
        if self._copy(connection):
            staging = staging_model(table)
            shown.append(
                {
                    "method": "DDL",
                    "statement": statement_text(sa.schema.CreateTable(staging, if_not_exists=True), dialect),
                }
            )
            names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in staging.c)
            shown.append({"method": "COPY", "statement": f"COPY {staging.name} ({names}) FROM STDIN (FORMAT csv)"})
            upsert = upsert_from_staging(table, staging, self.options.key_column)
        else:
            upsert = upsert_statement(table, self.options.key_column, dialect.name)
        shown.append({"method": "upsert", "statement": statement_text(upsert, dialect), "chunks": chunks})
        return shown

    def _copy(self, connection: Connection) -> bool:
        method = self.options.method
        pg_copy = connection.dialect == "postgresql" and connection.url.get_driver_name() == "psycopg"
        if method == "copy" and not pg_copy:
            raise DeliveryConfigError(
                f"{KIND} delivery: method 'copy' needs PostgreSQL with psycopg; this target is "
                f"{connection.url.get_backend_name()}+{connection.url.get_driver_name()}"
            )
        return pg_copy and method != "insert"

    # --- deliver ----------------------------------------------------------------------------------

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        rows = self._rows(report)
        chunks = [c for c in self._chunks(report, rows) if keys is None or c.key in keys]
        if not chunks:
            return
        try:
            connection = self._connection()
            where = self._where(connection)
            if where:
                raise TableMismatch(where)
            copy = self._copy(connection)
        except (CredentialsError, TableMismatch) as problem:
            yield from self._failed(chunks, str(problem))
            return
        engine = connection.engine()
        try:
            yield from self._deliver(engine, rows, chunks, copy)
        finally:
            engine.dispose()

    def _failed(self, chunks: list[_Chunk], error: str) -> Iterator[ItemResult]:
        for chunk in chunks:
            yield ItemResult(
                chunk.key, "failed", error=redact(f"{KIND} delivery {self.options.target_name!r}: {error}")
            )

    def _deliver(self, engine: sa.Engine, rows: Rows, chunks: list[_Chunk], copy: bool) -> Iterator[ItemResult]:
        options = self.options
        table = self._table(rows)
        try:
            conn = engine.connect()
        except sa_exc.SQLAlchemyError as problem:
            yield from self._failed(chunks, database_error(problem))
            return
        with conn:
            try:
                self._prepare(conn, table, rows)
            except TableMismatch as problem:
                yield from self._failed(chunks, str(problem))
                return
            except sa_exc.SQLAlchemyError as problem:
                yield from self._failed(chunks, database_error(problem))
                return
            dialect = conn.dialect.name
            staging = staging_model(table) if copy else None
            statement = None if copy else upsert_statement(table, options.key_column, dialect)

            def payload(chunk: _Chunk) -> tuple[pa.Table, pa.Buffer | None]:
                part = rows.table.slice(chunk.start, chunk.stop - chunk.start)
                stamp = pa.repeat(pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), part.num_rows)
                part = for_dialect(part.append_column(DELIVERED_AT, stamp), rows.columns, dialect)
                return part, load.csv_bytes(part, rows.columns) if copy else None

            # The next chunk is made ready (converted, as CSV for COPY) while this one is written:
            # Arrow's kernels and the driver's socket both let go of the interpreter lock.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sql-chunks") as ahead:
                upcoming = ahead.submit(payload, chunks[0])
                for done, chunk in enumerate(chunks):
                    part, data = upcoming.result()
                    if done + 1 < len(chunks):
                        upcoming = ahead.submit(payload, chunks[done + 1])
                    try:
                        with conn.begin():
                            if staging is not None and data is not None:
                                load.copy_rows(conn, table, staging, options.key_column, data)
                            else:
                                load.insert_rows(conn, statement, part)
                    except (sa_exc.OperationalError, sa_exc.InterfaceError) as problem:
                        # the connection is gone: the rest would wait for it in turn
                        error = database_error(problem)
                        yield from self._failed([chunk], error)
                        yield from self._failed(chunks[done + 1 :], f"not sent: {error}")
                        return
                    except sa_exc.SQLAlchemyError as problem:
                        yield from self._failed([chunk], database_error(problem))
                        continue
                    yield ItemResult(
                        chunk.key,
                        "sent",
                        ref=f"{options.shown_table} rows {chunk.start + 1}-{chunk.stop}",
                        info={"rows": part.num_rows, "method": "copy" if copy else "insert"},
                    )

    def _prepare(self, conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
        """Make the table agree with the report (create it, add columns), or TableMismatch."""
        options = self.options
        if not self._schema_exists(conn):
            conn.rollback()
            raise TableMismatch(f"schema {options.db_schema!r} does not exist; create it first")
        state = inspect_table(conn, table, rows.columns)
        conn.rollback()  # end the inspection's transaction: the DDL runs in its own
        check_state(state, options.shown_table, options.key_column, options.schema_evolution)
        statements = ddl_statements(table, state)
        if statements:
            with conn.begin():
                for ddl in statements:
                    conn.execute(ddl)


register(SqlTarget, SqlDelivery)
