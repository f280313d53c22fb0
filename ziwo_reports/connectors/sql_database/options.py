"""What the SQL database connector is asked to do (type `sql`): a pydantic model a flow takes as a
typed parameter and the Prefect UI renders as a form. Static checks only, no I/O."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.secrets import LOOKS_LIKE_A_TOKEN
from ziwo_reports.redaction import register_secret

#: PostgreSQL keeps 63 bytes of a name and cuts the rest silently; a test send adds `_test`.
MAX_NAME_BYTES = 63
TEST_SUFFIX = "_test"
MAX_CHUNK_ROWS = 100_000
#: A reference to where the connection URL is kept: a "SQLAlchemy Connector" block's name, a
#: Prefect "Secret" block's (secret:NAME), or environment variables (env:PREFIX, read PREFIX_URL).
REFERENCE = re.compile(r"^(env:[A-Z][A-Z0-9_]*|secret:[a-z0-9][a-z0-9-]*|[a-z0-9][a-z0-9-]*)$")


def check_identifier(value: str, what: str, room: int = 0) -> str:
    """A table, schema or column name any of our databases takes once quoted (SQLAlchemy quotes
    every name; none is formatted into SQL by us). ValueError saying what is wrong with it."""
    if not value:
        raise ValueError(f"{what} is empty")
    if value != value.strip():
        raise ValueError(f"{what} starts or ends with a space (MariaDB refuses it, and it is never meant)")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} holds a control character (NUL, tab, line break)")
    if any(ord(c) > 0xFFFF for c in value):
        raise ValueError(f"{what} holds a character beyond U+FFFF (an emoji?): MariaDB and MySQL cannot name one so")
    limit = MAX_NAME_BYTES - room
    if len(value.encode()) > limit:
        raise ValueError(
            f"{what} is {len(value.encode())} bytes long in UTF-8; at most {limit} (PostgreSQL cuts longer)"
        )
    return value


def _password_of(url: str) -> str | None:
    """The password a connection URL holds (in its user info or its query), or None."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: no password in it that it would use
        match = re.search(r"://[^/@\s:]*:([^@/\s]+)@", url)
        return match.group(1) if match else None
    if parsed.password:
        return str(parsed.password)
    for name in ("password", "passwd", "pwd"):
        given = parsed.query.get(name)
        if given:
            return given if isinstance(given, str) else given[0]
    return None


class SqlTarget(TargetOptions):
    """A table in a relational database as a delivery target: each report row upserted by its
    stable row key, in chunks of one transaction each."""

    form_title: ClassVar[str] = "SQL databases"
    form_description: ClassVar[str] = (
        "A table in PostgreSQL, MariaDB/MySQL, SQLite or another database SQLAlchemy reaches: created from the "
        "report's columns when missing, each row upserted by its row key."
    )

    type: Literal["sql"] = Field(default="sql", title="Type", description="sql: a table in a relational database.")
    credentials: str | None = Field(
        default=None,
        title="Credentials",
        description="Where the connection is kept: the name of a 'SQLAlchemy Connector' block (prefect-sqlalchemy), "
        "secret:NAME for a Prefect 'Secret' block holding the connection URL, or env:PREFIX to read the URL "
        "from PREFIX_URL. Either this or url.",
    )
    url: str | None = Field(
        default=None,
        title="Connection URL (no password)",
        description="A connection URL without a password, for a database that needs none here (sqlite:///path, "
        "a socket or trust login: postgresql://reporter@/bi). A URL with a password is refused: keep it in a "
        "block or the environment (credentials).",
    )
    table: str = Field(
        title="Table",
        description="The table the rows go into; created from the report's columns when missing. Any name: it is "
        f"quoted, never pasted into SQL (at most {MAX_NAME_BYTES - len(TEST_SUFFIX)} bytes).",
    )
    db_schema: str | None = Field(
        default=None,
        alias="schema",
        title="Schema",
        description="The table's schema (PostgreSQL) or database (MariaDB/MySQL); it must exist. Empty: the "
        "connection's default (public, the URL's database).",
    )
    key_column: str = Field(
        default="row_key",
        title="Key column",
        description="The primary key column, holding each row's stable key (a rerun of the period updates it).",
    )
    chunk_rows: int = Field(
        default=20_000,
        ge=1,
        le=MAX_CHUNK_ROWS,
        title="Rows per chunk",
        description="Rows upserted in one transaction; each chunk is one item of the ledger, so a replay sends "
        "only the chunks that failed. Fewer, larger chunks load faster (a commit each); smaller ones replay less.",
    )
    schema_evolution: Literal["add_columns", "fail"] = Field(
        default="add_columns",
        title="Schema evolution",
        description="A report column the table lacks: add_columns adds it (ALTER TABLE ... ADD); fail stops with "
        "an error naming the columns. A column whose type changed is always an error.",
    )
    method: Literal["auto", "copy", "insert"] = Field(
        default="auto",
        title="Load method",
        description="auto: on PostgreSQL with psycopg, COPY into a temporary staging table then INSERT ... ON "
        "CONFLICT (the fast path); elsewhere multi-row INSERT with the dialect's upsert. copy or insert force one.",
    )
    test: bool = Field(
        default=False,
        title="Test send",
        description=f"A marked test (`workflow test --send-test`): the rows go into the table named with "
        f"{TEST_SUFFIX!r} after it, next to the real one, never into the real table.",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value:
            register_secret(_password_of(value))
            raise ValueError(
                "this is a connection URL itself, not where one is kept: keep it in a 'SQLAlchemy Connector' or "
                "'Secret' block, or PREFIX_URL in the environment, and name that here"
            )
        if REFERENCE.match(value) and LOOKS_LIKE_A_TOKEN.search(value):
            register_secret(value)
            raise ValueError("this looks like a secret itself, not where one is kept")
        if not REFERENCE.match(value):
            raise ValueError(
                f"{value!r} is neither the name of a 'SQLAlchemy Connector' block (lowercase letters, digits, "
                "dashes), secret:NAME, nor env:PREFIX"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        password = _password_of(value)
        if password:
            register_secret(password)  # the error that names the field must not show it
            raise ValueError(
                "holds a password: keep the URL in a 'SQLAlchemy Connector' or 'Secret' block, or in the environment "
                "(credentials: env:PREFIX reads PREFIX_URL), never in the options"
            )
        from sqlalchemy.engine import make_url

        try:
            make_url(value)
        except Exception:
            raise ValueError(
                "is not a database URL such as sqlite:///reports.db or postgresql://user@host/db"
            ) from None
        return value

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_identifier(value, "the table name", room=len(TEST_SUFFIX))

    @field_validator("db_schema")
    @classmethod
    def _schema(cls, value: str | None) -> str | None:
        return value if value is None else check_identifier(value, "the schema name")

    @field_validator("key_column")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_identifier(value, "the key column name")

    @model_validator(mode="after")
    def _one_connection(self) -> SqlTarget:
        if (self.credentials is None) == (self.url is None):
            raise ValueError("give either credentials (a block or env:PREFIX) or url (a URL without a password)")
        return self

    @property
    def table_name(self) -> str:
        """The table written: the real one, or its `_test` twin for a test send."""
        return self.table + TEST_SUFFIX if self.test else self.table

    @property
    def shown_table(self) -> str:
        return f"{self.db_schema}.{self.table_name}" if self.db_schema else self.table_name
