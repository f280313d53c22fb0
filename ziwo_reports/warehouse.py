"""The DuckDB warehouse file: open it, bring its schema up to date with the versioned migrations
of `sql/migrations/`, and run the named SQL files of `sql/` with bound parameters."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DEFAULT_DB = Path("reports_out") / "ziwo.duckdb"

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


def bound(statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement uses (DuckDB refuses ones it does not); a `$name` in a comment
    is not one."""
    return {name: params[name] for name in set(_PARAMETER.findall(_COMMENT.sub("", statement)))}


@functools.cache
def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@functools.cache
def sql_statements(name: str) -> tuple[str, ...]:
    """The statements of `sql/<name>.sql`; each ends with `;` at the end of a line."""
    return tuple(_split(sql_text(name)))


def _split(text: str) -> Iterator[str]:
    """Statements end with `;` as the last code on a line (a `--` comment may follow it)."""
    lines: list[str] = []
    for line in text.splitlines():
        code = line.split("--", 1)[0].rstrip()
        if not code.endswith(";"):
            lines.append(line)
            continue
        lines.append(code[:-1])
        statement = "\n".join(lines).strip()
        lines = []
        if any(part.split("--", 1)[0].strip() for part in statement.splitlines()):
            yield statement


class Warehouse:
    """One connection to a warehouse file (or `:memory:`), in UTC."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path))
        # TIMESTAMPTZ values convert and cast to dates in the session zone: pin it.
        self.con.execute("SET TimeZone = 'UTC'")
        # Checkpoint every 128 MB of changes rather than every commit (each load commits), and keep
        # DuckDB's buffer cache bounded, so memory stays flat however big the file grows.
        self.con.execute("SET checkpoint_threshold = '128MB'")
        self.con.execute("SET memory_limit = $limit", {"limit": os.environ.get("ZIWO_REPORTS_DUCKDB_MEMORY") or "1GB"})

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run `sql/<name>.sql`, binding its `$name` parameters; returns the last statement's rows."""
        rows: list[tuple[Any, ...]] = []
        for statement in sql_statements(name):
            used = bound(statement, params)
            # Every result is read to the end: DuckDB refuses other work on a connection meanwhile.
            rows = self.con.execute(statement, used).fetchall() if used else self.con.execute(statement).fetchall()
        return rows

    def arrow(self, query: str, **params: Any) -> pa.Table:
        """Run one query text, binding its `$name` parameters; returns its rows as an Arrow table."""
        return self.con.sql(query, params=bound(query, params)).to_arrow_table()

    def rows(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        return self.run(name, **params)

    def one(self, name: str, **params: Any) -> tuple[Any, ...] | None:
        rows = self.run(name, **params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def migrate(self) -> list[str]:
        """Apply the migrations this file has not had, each in its own transaction."""
        self.run("schema_migrations")
        applied = {version for (version,) in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        files = sorted((SQL_DIR / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
        known = {int(f.name[:3]) for f in files}
        if applied - known:
            raise RuntimeError(
                f"warehouse {self.path} has schema version {max(applied)}, newer than this ziwo-reports "
                f"knows ({max(known)}); upgrade ziwo-reports"
            )
        done = []
        for file in files:
            version = int(file.name[:3])
            if version in applied:
                continue
            with self.transaction():
                for statement in _split(file.read_text(encoding="utf-8")):
                    self.con.execute(statement)
                self.con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, file.stem])
            done.append(file.stem)
        return done


def open_warehouse(path: str | Path = DEFAULT_DB) -> Warehouse:
    """Open (creating if needed) and migrate a warehouse file."""
    warehouse = Warehouse(path)
    try:
        warehouse.migrate()
    except BaseException:
        warehouse.close()
        raise
    return warehouse
