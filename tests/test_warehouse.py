"""The warehouse file: versioned migrations, named SQL with bound parameters, the public schema."""

from __future__ import annotations

import pytest

from ziwo_reports import warehouse as wh_module
from ziwo_reports.connectors.ziwo import CALL_COLUMNS
from ziwo_reports.warehouse import Warehouse, _split, open_warehouse

DUCKDB_TYPES = {
    "str": "VARCHAR",
    "int": ("BIGINT", "SMALLINT"),
    "seconds": "INTEGER",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "tags": "VARCHAR[]",
}


def columns(warehouse: Warehouse, table: str) -> dict[str, str]:
    return dict(
        warehouse.con.execute(
            f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = '{table}'"
        ).fetchall()
    )


def test_migrations_create_every_table_once(tmp_path):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as first:
        tables = {t for (t,) in first.con.execute("SHOW TABLES").fetchall()}
        versions = first.con.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert tables >= {
        "calls",
        "agents",
        "teams",
        "queues",
        "numbers",
        "quarantine",
        "ingest_state",
        "ingest_runs",
        "contacts",
        "listing_checks",
        "deliveries",
        "workflow_cursors",
    }
    assert versions == [
        (1, "001_warehouse"),
        (2, "002_caller_digits"),
        (3, "003_contacts"),
        (4, "004_leg_credits"),
        (5, "005_listing_checks"),
        (6, "006_deliveries"),
        (7, "007_workflow_cursors"),
        (8, "008_repeat_kinds"),
    ]
    with Warehouse(path) as again:
        assert again.migrate() == []


def test_a_newer_warehouse_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as warehouse:
        warehouse.con.execute("INSERT INTO schema_migrations VALUES (99, '099_future', now())")
    with pytest.raises(RuntimeError, match="has schema version 99, newer than this ziwo-reports knows"):
        open_warehouse(path)


def test_calls_carry_every_canonical_column_with_its_type():
    with open_warehouse(":memory:") as warehouse:
        table = columns(warehouse, "calls")
    for column in CALL_COLUMNS:
        expected = DUCKDB_TYPES[column.kind]
        assert table[column.name] in (expected if isinstance(expected, tuple) else (expected,)), column
    assert table["instance"] == "VARCHAR" and table["raw"] == "JSON" and table["source_date"] == "DATE"


def test_named_sql_binds_only_the_parameters_it_uses():
    with open_warehouse(":memory:") as warehouse:
        assert warehouse.one("read_cursor", instance="x", stream="calls", unused="ignored") is None
        assert warehouse.rows("known_ids", instance="x") == []


def test_statements_split_at_semicolons_ending_a_line():
    text = "-- a comment\nSELECT 1;\nSELECT ';' AS x;  -- trailing comment\n\n-- only a comment;\n"
    assert list(_split(text)) == ["-- a comment\nSELECT 1", "SELECT ';' AS x"]


def test_sql_lives_in_files():
    assert (wh_module.SQL_DIR / "load_calls.sql").is_file()
    assert wh_module.sql_statements("load_calls")[0].startswith("-- Load a staged batch")
