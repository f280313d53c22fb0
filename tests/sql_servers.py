"""The real database servers the SQL delivery is tested against, and a namespace of each test's own.

PostgreSQL (127.0.0.1:5432, trust auth, database test) and MariaDB (127.0.0.1:3306, root with an
empty password, database test) run on this machine (`.ci/run` starts them where they are not
running). A test that needs one skips, naming what it could not reach, when it is absent, except
under CI=true, where it fails. Each test gets a schema (PostgreSQL) or database (MariaDB) of its
own, named from a random suffix, so parallel workers never meet; it is dropped afterwards.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
DIALECTS = ("postgresql", "mariadb", "sqlite")


@functools.cache
def unreachable(dialect: str) -> str | None:
    """Why the server cannot be used, or None when it can."""
    if dialect == "sqlite":
        return None
    engine = sa.create_engine(URLS[dialect], connect_args={"connect_timeout": 3}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as problem:
        return (
            f"{dialect} at {URLS[dialect]} is not reachable ({type(problem).__name__}: {str(problem).splitlines()[0]})"
        )
    finally:
        engine.dispose()


def need(dialect: str) -> None:
    """Skip (fail under CI=true) when the server is absent."""
    problem = unreachable(dialect)
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem}; CI must run the SQL tests against it (.ci/run starts it)")
    pytest.skip(problem)


@dataclass
class Namespace:
    """Where a test's tables go: `url` and `schema` as the delivery's options take them, and an
    engine to look at what they hold."""

    dialect: str
    url: str
    schema: str | None
    engine: sa.Engine

    def options(self, table: str, **more: object) -> dict[str, object]:
        options: dict[str, object] = {"type": "sql", "name": f"sql-{self.dialect}", "url": self.url, "table": table}
        if self.schema:
            options["schema"] = self.schema
        return {**options, **more}

    def table(self, name: str) -> sa.Table:
        return sa.Table(name, sa.MetaData(), schema=self.schema, autoload_with=self.engine)

    def rows(self, name: str, *, without: tuple[str, ...] = ()) -> list[dict[str, object]]:
        """The table's rows, ordered by their key, without the columns named."""
        table = self.table(name)
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(table).order_by(table.c.row_key)).mappings().all()
        return [{k: v for k, v in row.items() if k not in without} for row in found]

    def count(self, name: str) -> int:
        table = self.table(name)
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    def exists(self, name: str) -> bool:
        database = self.engine.url.database
        if self.dialect == "sqlite" and database and not Path(database).exists():
            return False  # connecting would make the file
        with self.engine.connect() as conn:
            return sa.inspect(conn).has_table(name, schema=self.schema)

    def create_schema(self) -> None:
        if self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))

    def drop_schema(self) -> None:
        if self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(self.schema, cascade=self.dialect == "postgresql", if_exists=True))


def make_namespace(dialect: str, folder: Path, name: str | None = None) -> Namespace:
    """A namespace of the test's own (created; drop it with `drop_schema`)."""
    need(dialect)
    if dialect == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'bi.sqlite'}"
        return Namespace(dialect, url, None, sa.create_engine(url, poolclass=sa.pool.NullPool))
    schema = name or f"zrt_{uuid.uuid4().hex[:12]}"
    namespace = Namespace(dialect, URLS[dialect], schema, sa.create_engine(URLS[dialect], poolclass=sa.pool.NullPool))
    namespace.create_schema()
    return namespace


@contextmanager
def namespace_of(dialect: str, folder: Path) -> Iterator[Namespace]:
    namespace = make_namespace(dialect, folder)
    try:
        yield namespace
    finally:
        namespace.drop_schema()
        namespace.engine.dispose()
