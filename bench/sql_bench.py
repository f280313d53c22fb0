"""SQL delivery benchmark: 1,000,000 call-detail rows upserted into PostgreSQL by the `sql` delivery,
against, in the same run, on the same rows:

(a) the fast loaders' path written by hand: the whole table as CSV (Arrow's C++ writer), COPY into
    a temporary staging table, INSERT ... SELECT ... ON CONFLICT DO UPDATE into the target, one
    transaction (the best case: no chunks, no ledger items, nothing else);
(b) pandas `DataFrame.to_sql(method="multi")` (multi-row INSERT statements, 1,000 rows each, under
    PostgreSQL's 65,535 parameters), timed on a slice (--to-sql-rows, 20,000 by default: 1M rows
    take it over 20 minutes) and given as rows/s;
(c) the delivery with `method: insert` (the dialect's multi-row upsert, executemany, no COPY) on
    the same slice, to show why PostgreSQL goes through COPY.

Every approach writes into a fresh table of the same DDL (the delivery's, created before the
clock starts, as the delivery creates its own on the first run), from the same Arrow table built
before the clock (the delivery's conversion of the report's columns is inside its clock). Rounds
alternate the order of (a) and the delivery; the figures are medians over rounds. Targets: the
delivery within 1.5x of (a), and at least 5x (b).

    .venv/bin/python bench/sql_bench.py                       # 1,000,000 rows, 3 rounds
    .venv/bin/python bench/sql_bench.py --rows 200000 --rounds 2

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database test), or --url. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

SCHEMA = "ziwo_sql_bench"


def golden_report():
    """A real call-details report (the golden day's), whose table is replaced by synthetic rows."""
    from tests import golden
    from ziwo_reports.warehouse import open_warehouse

    with tempfile.TemporaryDirectory() as folder, open_warehouse(Path(folder) / "w.duckdb") as warehouse:
        golden.load(warehouse)
        return golden.report_of(warehouse, "call-details", interval="none")


def synthetic_calls(template: pa.Table, rows: int, seed: int = 7) -> pa.Table:
    """`rows` call-detail rows of the report's schema, with realistic spreads of values and nulls."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-11-01T00:00:00", "us")
    started = start + rng.integers(0, 30 * 86400, rows).astype("timedelta64[s]")
    answered = rng.random(rows) < 0.8
    ring = rng.integers(0, 40, rows)
    talk = np.where(answered, rng.integers(20, 900, rows), 0)
    columns: dict[str, pa.Array] = {}
    for field in template.schema:
        name, kind = field.name, field.type
        if name == "call_id":
            values = pa.array(np.char.add("C", np.arange(rows).astype(str)))
        elif name in ("instance",):
            values = pa.array(["bench"] * rows)
        elif pa.types.is_timestamp(kind):
            offset = {"queue_entered_at": 1, "agent_ring_started_at": 5, "answered_at": 5, "ended_at": 10}.get(name, 0)
            when = started + np.timedelta64(1, "s") * (offset + (ring if name != "started_at" else 0))
            mask = ~answered if name == "answered_at" else None
            values = pa.array(when, pa.timestamp("us"), mask=mask).cast(kind)
        elif name == "talk_time_s":
            values = pa.array(talk, kind)
        elif pa.types.is_integer(kind):
            high = 5 if name == "survey_score" else 1000
            values = pa.array(rng.integers(1, high + 1, rows), kind, mask=rng.random(rows) < 0.1)
        elif pa.types.is_boolean(kind):
            values = pa.array(rng.random(rows) < 0.1)
        elif pa.types.is_list(kind):
            choice = np.array([[], ["vip"], ["complaint"], ["vip", "callback"]], dtype=object)
            values = pa.array(list(choice[rng.integers(0, 4, rows)]), kind)
        elif name in ("period_start", "period_end"):
            values = pa.array(["2026-11-01T00:00:00+04:00"] * rows)
        elif name == "timezone":
            values = pa.array(["Asia/Dubai"] * rows)
        else:
            pool = np.array([f"{name} {i}" for i in range(50)] + ['Ünïcode, "quoted"', ""], dtype=object)
            values = pa.array(list(pool[rng.integers(0, len(pool), rows)]), pa.string(), mask=rng.random(rows) < 0.05)
        columns[name] = values
    return pa.table(columns, schema=template.schema)


def fresh_table(engine: sa.Engine, name: str, columns) -> sa.Table:  # columns: list[SqlColumn]
    from ziwo_reports.connectors.sql_database.table import table_model

    table = table_model(name, SCHEMA, columns)
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
    return table


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def run_delivery(url: str, report, table: str, method: str = "auto", chunk_rows: int = 20_000) -> float:
    from ziwo_reports.connectors.delivery import delivery_for

    delivery = delivery_for(
        {"type": "sql", "url": url, "schema": SCHEMA, "table": table, "method": method, "chunk_rows": chunk_rows}
    )
    started = time.perf_counter()
    results = list(delivery.deliver(report))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if r.status != "sent"]
    assert not failed, failed[0].error
    return elapsed


def run_copy_baseline(engine: sa.Engine, target: sa.Table, csv: pa.Buffer) -> float:
    """The fast loaders' path at its cheapest: the CSV made before the clock, so only the database's
    work is timed: COPY of the whole table into staging, INSERT ON CONFLICT, commit."""
    from psycopg import sql

    from ziwo_reports.connectors.sql_database.table import staging_model, upsert_from_staging

    staging = staging_model(target)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateTable(staging))
        raw = conn.connection.driver_connection
        copy = sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(sql.Identifier(staging.name))
        with raw.cursor() as cursor, cursor.copy(copy) as writer:
            writer.write(memoryview(csv))
        conn.execute(upsert_from_staging(target, staging, "row_key"))
        conn.execute(sa.schema.DropTable(staging))
    return time.perf_counter() - started


def run_to_sql(engine: sa.Engine, target: sa.Table, frame) -> float:
    started = time.perf_counter()
    frame.to_sql(
        target.name,
        engine,
        schema=SCHEMA,
        if_exists="append",
        index=False,
        method="multi",
        chunksize=1000,
        dtype={"tags": postgresql.JSONB()},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--to-sql-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from ziwo_reports.connectors.sql_database.columns import DELIVERED_AT, for_dialect, report_rows
    from ziwo_reports.connectors.sql_database.load import csv_bytes

    template = golden_report()
    table = synthetic_calls(template.table, args.rows)
    report = dataclasses.replace(template, table=table, keys=None)
    small = dataclasses.replace(template, table=table.slice(0, args.to_sql_rows), keys=None)
    rows = report_rows(report, "row_key")
    stamp = pa.array([datetime.now(UTC)] * rows.table.num_rows, pa.timestamp("us", tz="UTC"))
    data = for_dialect(rows.table.append_column(DELIVERED_AT, stamp), rows.columns, "postgresql")
    csv = csv_bytes(data, rows.columns)
    frame = data.slice(0, args.to_sql_rows).to_pandas()
    frame["tags"] = [None if v is None else list(v) for v in frame["tags"]]  # JSONB binds lists

    engine = sa.create_engine(args.url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    print(f"SQL delivery benchmark: {args.rows:,} call-detail rows ({len(rows.columns)} columns) into PostgreSQL")
    print(f"  {engine.dialect.server_version_info}, chunks of {args.chunk_rows:,} rows, {args.rounds} rounds\n")
    ours, copies, to_sql, plain = [], [], [], []
    try:
        # a warm-up of both paths (connections, the server's caches and catalog), not timed
        warm = min(args.rows, 50_000)
        run_delivery(args.url, dataclasses.replace(report, table=table.slice(0, warm)), "warm_up", chunk_rows=warm)
        run_copy_baseline(
            engine, fresh_table(engine, "warm_copy", rows.columns), csv_bytes(data.slice(0, warm), rows.columns)
        )
        for round_no in range(args.rounds):
            order = ("delivery", "copy") if round_no % 2 == 0 else ("copy", "delivery")
            for phase in order:
                target = fresh_table(engine, f"bench_{phase}", rows.columns)
                if phase == "delivery":
                    ours.append(args.rows / run_delivery(args.url, report, target.name, chunk_rows=args.chunk_rows))
                else:
                    copies.append(args.rows / run_copy_baseline(engine, target, csv))
                assert count(engine, target) == args.rows
            target = fresh_table(engine, "bench_to_sql", rows.columns)
            to_sql.append(args.to_sql_rows / run_to_sql(engine, target, frame))
            assert count(engine, target) == args.to_sql_rows
            target = fresh_table(engine, "bench_insert", rows.columns)
            plain.append(args.to_sql_rows / run_delivery(args.url, small, target.name, "insert", args.chunk_rows))
            assert count(engine, target) == args.to_sql_rows
            print(
                f"  round {round_no + 1}: delivery {ours[-1]:,.0f} rows/s, COPY+upsert {copies[-1]:,.0f}, "
                f"to_sql {to_sql[-1]:,.0f}, delivery method insert {plain[-1]:,.0f}",
                flush=True,
            )
        # a rerun of the period: every row already there, so every one is updated
        rerun = args.rows / run_delivery(args.url, report, "bench_delivery", chunk_rows=args.chunk_rows)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()

    med = {
        name: statistics.median(v)
        for name, v in (("ours", ours), ("copy", copies), ("to_sql", to_sql), ("plain", plain))
    }
    print()
    print(f"{'approach':<52} {'rows/s (median)':>16} {'s per 1M rows':>14}")
    lines = [
        ("sql delivery (COPY staging + ON CONFLICT, chunks)", med["ours"], args.rows),
        ("hand-written COPY staging + ON CONFLICT, one txn", med["copy"], args.rows),
        (f"pandas to_sql(method='multi'), {args.to_sql_rows:,} rows", med["to_sql"], args.to_sql_rows),
        (f"sql delivery, method insert, {args.to_sql_rows:,} rows", med["plain"], args.to_sql_rows),
        ("sql delivery rerun (every row updated)", rerun, args.rows),
    ]
    for name, rate, _ in lines:
        print(f"{name:<52} {rate:>16,.0f} {1_000_000 / rate:>14.1f}")
    print()
    ratios = [c / o for c, o in zip(copies, ours, strict=True)]  # each round's pair ran back to back
    print(
        f"per round, COPY path / delivery: {', '.join(f'{r:.2f}x' for r in ratios)} "
        f"(median {statistics.median(ratios):.2f}x)"
    )
    print(
        f"COPY path / delivery: {med['copy'] / med['ours']:.2f}x (target <= 1.5x); "
        f"delivery / to_sql: {med['ours'] / med['to_sql']:.1f}x (target >= 5x)"
    )


if __name__ == "__main__":
    main()
