"""The DuckDB warehouse file: open it (read-write to load and migrate, read-only to report, waiting
while another process holds it), bring its schema up to date with the versioned migrations of
`sql/migrations/`, and run the named SQL files of `sql/` with bound parameters."""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ziwo_reports import redaction

#: The named SQL files, shipped inside the package and read through importlib.resources, so an
#: installed wheel finds them as a checkout does.
SQL_DIR: Traversable = resources.files("ziwo_reports") / "sql"
_MIGRATION = re.compile(r"^\d{3}_\w+\.sql$")
DEFAULT_DB = Path("reports_out") / "ziwo.duckdb"
#: Seconds a run waits for a warehouse file another process holds: an incremental ingest holds it
#: for seconds to a few minutes, so a report started meanwhile gets through, while a run stuck
#: behind a long backfill or full refresh fails, clearly, within minutes instead of hanging.
DEFAULT_WAIT_SECONDS = 300.0
WAIT_ENV = "ZIWO_REPORTS_DB_WAIT"

log = logging.getLogger(__name__)

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")


def bound(statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement uses (DuckDB refuses ones it does not); a `$name` in a comment
    is not one."""
    return {name: params[name] for name in set(_PARAMETER.findall(_COMMENT.sub("", statement)))}


@functools.cache
def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return SQL_DIR.joinpath(*f"{name}.sql".split("/")).read_text(encoding="utf-8")


@functools.cache
def migration_files() -> list[Traversable]:
    """The versioned migrations of `sql/migrations/`, oldest first (`001_warehouse.sql`, ...)."""
    return sorted((f for f in (SQL_DIR / "migrations").iterdir() if _MIGRATION.match(f.name)), key=lambda f: f.name)


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


class WarehouseError(RuntimeError):
    """A warehouse file that cannot be opened as asked; the message is one line naming the file."""


class WarehouseBusy(WarehouseError):
    """Another process held the file for longer than the run would wait."""


def lock_wait(text: str | None = None) -> float:
    """Seconds to wait for a locked warehouse: `text`, else $ZIWO_REPORTS_DB_WAIT, else the default."""
    if text is None:
        text = os.environ.get(WAIT_ENV) or ""
        source = WAIT_ENV
    else:
        source = "--wait"
    if not text.strip():
        return DEFAULT_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{source} {text!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{source} {text!r} must be a number of seconds, 0 or more")
    return seconds


_PID = re.compile(r"\(PID (\d+)\)")
_HELD_IN = re.compile(r"lock is held in (.+?) \(PID \d+\)")
_SECRET_OPTION = re.compile(r"(?i)^--?[\w-]*(password|passwd|token|secret|api[-_]?key)[\w-]*$")


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock on file" in str(error)


def _command_line(pid: int) -> str | None:
    """The command line of a process, as far as /proc shows it, with option values that look
    like secrets masked (a holder may be `ziwo-reports ingest --password ...`)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    shown: list[str] = []
    mask_next = False
    for arg in args:
        name, equals, _ = arg.partition("=")
        if mask_next:
            shown.append(redaction.MASK)
        elif _SECRET_OPTION.match(name) and equals:
            shown.append(f"{name}={redaction.MASK}")
        else:
            shown.append(arg if len(arg) <= 60 else arg[:59] + "…")  # a `python -c` script: its start
        mask_next = not mask_next and not equals and bool(_SECRET_OPTION.match(arg))
    text = redaction.redact(" ".join(shown))
    return text if len(text) <= 300 else text[:299] + "…"


def _holder(error: duckdb.Error) -> str:
    """Who holds the lock, from DuckDB's message ("... held in /usr/bin/python3 (PID 123)")."""
    message = str(error)
    pid = _PID.search(message)
    if pid is None:
        return "another process"
    command = _command_line(int(pid.group(1)))
    if command is None:
        program = _HELD_IN.search(message)
        command = program.group(1) if program else None
    return f"PID {pid.group(1)}" + (f" ({command})" if command else "")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _connect(
    path: Path, *, read_only: bool, wait: float, on_wait: Callable[[str], None] | None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to a warehouse file; while another process holds the file, retry with a
    short backoff for up to `wait` seconds, telling `on_wait` once who holds it."""
    started = time.monotonic()
    delay = 0.05
    told = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.ConnectionException as error:
            # DuckDB keeps one database instance per file in a process, and refuses a second
            # connection with another configuration (read-only beside read-write). A reader in a
            # process that already writes the file (a test's fixture, a flow's ingest subflow,
            # the demo) shares that instance: this module never writes through a read-only
            # Warehouse, so nothing changes for the reader. The other way round cannot work:
            # a writer beside this process's own readers would wait for itself, so it fails now.
            if "different configuration" not in str(error):
                raise WarehouseError(f"warehouse {path}: {_one_line(error)}") from None
            if not read_only:
                raise WarehouseError(
                    f"warehouse {path} is open read-only elsewhere in this process; "
                    "close that connection before opening it to write"
                ) from None
            try:
                return duckdb.connect(str(path))
            except duckdb.Error as again:
                raise WarehouseError(f"warehouse {path}: {_one_line(again)}") from None
        except duckdb.Error as error:
            if not _is_lock_conflict(error):
                raise _open_error(path, read_only, error) from None
            waited = time.monotonic() - started
            if waited >= wait:
                raise WarehouseBusy(
                    f"warehouse {path} is still in use by {_holder(error)} after waiting {waited:.1f} s; "
                    f"wait longer with --wait SECONDS or {WAIT_ENV}"
                ) from None
            if not told:
                message = f"warehouse {path} is in use by {_holder(error)}; waiting up to {wait:g} s for it"
                (on_wait or log.warning)(message)
                told = True
            time.sleep(min(delay, max(0.0, wait - waited)))
            delay = min(delay * 2, 1.0)


def _open_error(path: Path, read_only: bool, error: duckdb.Error) -> WarehouseError:
    message = str(error)
    if "not a valid DuckDB database file" in message:
        return WarehouseError(f"{path} is not a DuckDB file, so not a ziwo-reports warehouse")
    if read_only and "database does not exist" in message:
        return WarehouseError(f"no warehouse at {path}; run `ziwo-reports ingest` first")
    return WarehouseError(f"warehouse {path}: {_one_line(error)}")


class Warehouse:
    """One connection to a warehouse file (or `:memory:`), in UTC.

    Read-write creates the file if missing; read-only never writes, and several processes can
    read one file side by side (but not beside a writer). While another process holds the file,
    opening waits up to `wait` seconds (default: $ZIWO_REPORTS_DB_WAIT, else 300), telling
    `on_wait` (default: a warning in the log) once which process holds it."""

    def __init__(
        self,
        path: str | Path = DEFAULT_DB,
        *,
        read_only: bool = False,
        wait: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.read_only = read_only and self.path is not None
        if self.path is None:
            self.con = duckdb.connect(":memory:")
        else:
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            wait = lock_wait() if wait is None else wait
            self.con = _connect(self.path, read_only=self.read_only, wait=wait, on_wait=on_wait)
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

    @contextmanager
    def staged(self, name: str, table: pa.Table) -> Iterator[None]:
        """`table` as the view `name` for the SQL run meanwhile."""
        self.con.register(name, table)
        try:
            yield
        finally:
            self.con.unregister(name)

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

    def _tables(self) -> set[str]:
        """The tables and views of this file (none of DuckDB's own)."""
        query = (
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
        )
        return {name for (name,) in self.con.execute(query).fetchall()}

    def _versions(self) -> tuple[set[int], list[Traversable]]:
        """The migrations this file has had, and the migration files this ziwo-reports knows;
        refuses a DuckDB file that holds other tables but no `schema_migrations`."""
        files = migration_files()
        tables = self._tables()
        if "schema_migrations" not in tables:
            if tables:
                shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
                raise WarehouseError(
                    f"{self.path} is a DuckDB file but not a ziwo-reports warehouse (tables {shown}, "
                    "no schema_migrations); left as it is: give a warehouse or a new file"
                )
            return set(), files
        applied = {version for (version,) in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        known = {int(f.name[:3]) for f in files}
        if applied - known:
            raise WarehouseError(
                f"warehouse {self.path} has schema version {max(applied)}, newer than this ziwo-reports "
                f"knows ({max(known)}); upgrade ziwo-reports"
            )
        return applied, files

    def check_schema(self) -> None:
        """Refuse a file that is not a warehouse at this version's schema, changing nothing."""
        applied, files = self._versions()
        if not applied:
            raise WarehouseError(f"{self.path} holds no warehouse yet; run `ziwo-reports ingest` first")
        missing = {int(f.name[:3]) for f in files} - applied
        if missing:
            raise WarehouseError(
                f"warehouse {self.path} has schema version {max(applied)}, older than this ziwo-reports "
                f"({max(missing | applied)}); run `ziwo-reports ingest` once to upgrade it"
            )

    def migrate(self) -> list[str]:
        """Apply the migrations this file has not had, each in its own transaction."""
        if self.read_only:
            raise WarehouseError(f"warehouse {self.path} is open read-only: it cannot be migrated")
        applied, files = self._versions()
        self.run("schema_migrations")
        done = []
        for file in files:
            version = int(file.name[:3])
            if version in applied:
                continue
            with self.transaction():
                for statement in _split(file.read_text(encoding="utf-8")):
                    self.con.execute(statement)
                stem = file.name.removesuffix(".sql")
                self.con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, stem])
            done.append(stem)
        return done


def open_warehouse(
    path: str | Path = DEFAULT_DB,
    *,
    read_only: bool = False,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Warehouse:
    """Open a warehouse file: read-write (creating the file if needed) and migrated, or read-only
    and checked to be a warehouse at this version's schema. Waits while another process holds it
    (see `Warehouse`); errors are one line naming the file."""
    warehouse = Warehouse(path, read_only=read_only, wait=wait, on_wait=on_wait)
    try:
        if warehouse.read_only:
            warehouse.check_schema()
        else:
            warehouse.migrate()
    except BaseException:
        warehouse.close()
        raise
    return warehouse
