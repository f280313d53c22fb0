"""The connection of a `sql` target: its URL from where the options say it is kept, and the engine.

- a "SQLAlchemy Connector" block (prefect-sqlalchemy) by name: its URL (from components, whose
  password is a SecretStr, or a URL string) and its connect_args;
- `secret:NAME`: a Prefect "Secret" block holding the URL;
- `env:PREFIX`: the URL in the environment variable PREFIX_URL;
- `url`: a URL without a password, in the options.

The password is registered with `ziwo_reports.redaction`, so no log line, error or ledger row
shows it. A URL without a driver gets the one this project installs: psycopg (v3) for PostgreSQL,
PyMySQL for MariaDB/MySQL.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from ziwo_reports.connectors.secrets import CredentialsError
from ziwo_reports.connectors.sql_database.options import SqlTarget
from ziwo_reports.redaction import register_secret

#: The driver a URL without one gets: the ones this project depends on.
DEFAULT_DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}


@dataclass(frozen=True)
class Connection:
    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def engine(self) -> Engine:
        # One connection for a delivery, closed when it ends: no pool kept between scheduled runs.
        return create_engine(self.url, connect_args=self.connect_args, poolclass=NullPool)


#: Drivers a block's dropdown offers that this project does not install, and the one that serves
#: the same database in their place.
STAND_INS = {"postgresql+psycopg2": ("psycopg2", "postgresql+psycopg"), "mysql+mysqldb": ("MySQLdb", "mysql+pymysql")}


def with_driver(url: URL) -> URL:
    """The URL with the driver this project installs where it names none, or one not installed
    that ours stands in for (the "SQLAlchemy Connector" block offers psycopg2, not psycopg 3)."""
    if url.drivername in STAND_INS:
        module, stand_in = STAND_INS[url.drivername]
        if importlib.util.find_spec(module) is None:
            return url.set(drivername=stand_in)
    backend = url.get_backend_name()
    if "+" not in url.drivername and backend in DEFAULT_DRIVERS:
        name = "postgresql" if backend == "postgres" else backend
        return url.set(drivername=f"{name}+{DEFAULT_DRIVERS[backend]}")
    return url


def _parse(text: str, where: str) -> URL:
    try:
        url = make_url(text.strip())
    except Exception:
        raise CredentialsError(f"credentials {where!r}: the value is not a database URL") from None
    register_secret(url.password and str(url.password))
    return with_driver(url)


def _from_block(name: str) -> Connection:
    from prefect_sqlalchemy import SqlAlchemyConnector

    try:
        block = SqlAlchemyConnector.load(name)
    except ValueError as problem:  # no such block document
        raise CredentialsError(
            f"credentials {name!r}: no 'SQLAlchemy Connector' block of that name ({problem})"
        ) from None
    except Exception as problem:
        raise CredentialsError(
            f"credentials {name!r}: the Prefect API could not be asked for it ({type(problem).__name__}); "
            "use env:PREFIX to read the URL from PREFIX_URL"
        ) from None
    info = block.connection_info
    url = info.create_url() if hasattr(info, "create_url") else make_url(str(info))
    register_secret(url.password and str(url.password))
    return Connection(with_driver(url), dict(block.connect_args or {}))


def _from_secret(name: str) -> Connection:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()
    except ValueError as problem:
        raise CredentialsError(f"credentials 'secret:{name}': no 'Secret' block of that name ({problem})") from None
    except Exception as problem:
        raise CredentialsError(
            f"credentials 'secret:{name}': the Prefect API could not be asked for it ({type(problem).__name__})"
        ) from None
    register_secret(str(value))
    return Connection(_parse(str(value), f"secret:{name}"))


def connection_of(options: SqlTarget) -> Connection:
    """The target's connection; CredentialsError (one line, no secret) when it cannot be had."""
    if options.url is not None:
        return Connection(_parse(options.url, "url"))
    reference = options.credentials or ""
    if reference.startswith("env:"):
        variable = reference.removeprefix("env:") + "_URL"
        value = os.environ.get(variable, "").strip()
        if not value:
            raise CredentialsError(f"credentials {reference!r}: the environment variable {variable} is not set")
        register_secret(value)
        return Connection(_parse(value, reference))
    if reference.startswith("secret:"):
        return _from_secret(reference.removeprefix("secret:"))
    return _from_block(reference)
