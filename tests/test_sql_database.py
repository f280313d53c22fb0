"""The SQL database delivery (type `sql`) against the real PostgreSQL and MariaDB of this machine,
and SQLite: the table created and typed from the report, upserts (twice the same rows; changed
values), a crash between and inside chunks (a killed process), schema evolution both ways, a
changed type, hostile table names, credentials (never shown), check/plan, test sends, and
workflows (a metrics report, and an after_call workflow's calls)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from tests import golden
from tests.conftest import run_ingest
from tests.sql_servers import DIALECTS, URLS, namespace_of, need
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.marked_send import marked
from ziwo_reports.workflows.model import parse_workflow
from ziwo_reports.workflows.run import run_workflow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=DIALECTS)
def db(request, tmp_path):
    with namespace_of(request.param, tmp_path / "db") as namespace:
        yield namespace


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "ledger.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def utc(value):
    """An instant read back: PostgreSQL gives it with its zone, MariaDB and SQLite as UTC wall time."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def test_create_types_and_upsert_twice(db, warehouse):
    report = golden.report_of(warehouse)
    target = db.options("agent metrics", chunk_rows=4)
    first = deliver_report(report, target, ledger(warehouse), run_id="r1", source="test")
    assert not first.failed and len(first.results) == 3  # 9 rows in chunks of 4
    assert db.count("agent metrics") == 9
    table = db.table("agent metrics")
    assert [c.name for c in table.primary_key.columns] == ["row_key"]
    assert isinstance(table.c.calls_answered.type, sa.Integer)
    assert isinstance(table.c.avg_handle_time_s.type, sa.Integer), "durations as whole seconds"
    assert isinstance(table.c.fcr_rate.type, sa.Numeric) and not isinstance(table.c.fcr_rate.type, sa.Integer)
    assert isinstance(table.c.period_start.type, sa.DateTime)
    if db.dialect == "postgresql":
        assert table.c.period_start.type.timezone, "TIMESTAMP WITH TIME ZONE on PostgreSQL"
    if db.dialect != "sqlite":
        assert table.c.row_key.type.length == 255

    held = {row["row_key"]: row for row in db.rows("agent metrics")}
    expected = report.table.to_pylist()
    for key, row in zip(row_keys(report).to_pylist(), expected, strict=True):
        got = held[key]
        assert got["group_name"] == row["group_name"] and got["calls_answered"] == row["calls_answered"]
        assert utc(got["period_start"]) == datetime.fromisoformat(row["period_start"]).astimezone(UTC)
        aht = row["avg_handle_time_s"]
        assert got["avg_handle_time_s"] == (None if aht is None else round(aht))
        if row["fcr_rate"] is None:
            assert got["fcr_rate"] is None
        else:
            assert abs(float(got["fcr_rate"]) - row["fcr_rate"]) < 1e-6
        assert got["report_key"] and utc(got["report_window_start"]) == report.window.start

    stamped = {k: utc(r["delivered_at"]) for k, r in held.items()}
    second = deliver_report(report, target, ledger(warehouse), run_id="r2", source="test")
    assert not second.failed and db.count("agent metrics") == 9, "the same rows again: updated, not added"
    again = {row["row_key"]: row for row in db.rows("agent metrics")}
    assert all(utc(again[k]["delivered_at"]) >= stamped[k] for k in again)
    assert [{k: v for k, v in r.items() if k != "delivered_at"} for r in again.values()] == [
        {k: v for k, v in r.items() if k != "delivered_at"} for r in held.values()
    ]

    # the period computed again with other figures: the same rows, their values updated
    changed = report.table.set_column(
        report.table.schema.get_field_index("calls_answered"),
        "calls_answered",
        pc.add(report.table["calls_answered"], 100),
    )
    third = deliver_report(
        dataclasses.replace(report, table=changed), target, ledger(warehouse), run_id="r3", source="test"
    )
    assert not third.failed and db.count("agent metrics") == 9
    updated = {row["row_key"]: row["calls_answered"] for row in db.rows("agent metrics")}
    assert updated == {k: r["calls_answered"] + 100 for k, r in held.items()}


def test_call_details_round_trip(db, warehouse):
    report = golden.report_of(warehouse, "call-details", interval="none")
    delivered = deliver_report(report, db.options("calls"), ledger(warehouse), run_id="r1", source="test")
    assert not delivered.failed
    held = {row["row_key"]: row for row in db.rows("calls")}
    assert len(held) == report.table.num_rows
    for key, row in zip(row_keys(report).to_pylist(), report.table.to_pylist(), strict=True):
        got = held[key]
        for name in ("started_at", "answered_at", "ended_at"):
            assert (got[name] is None) == (row[name] is None)
            if row[name] is not None:
                assert utc(got[name]) == row[name]
        tags = got["tags"]
        assert (json.loads(tags) if isinstance(tags, str) else tags) == row["tags"]
        assert bool(got["transferred"]) == row["transferred"] and got["duration_s"] == row["duration_s"]
        assert got["caller_number"] == row["caller_number"] and got["call_id"] == row["call_id"]


def test_schema_evolution_adds_a_new_column_or_fails_naming_it(db, warehouse):
    report = golden.report_of(warehouse)
    older = dataclasses.replace(report, table=report.table.drop_columns(["csat_top2_rate", "csat_avg"]))
    assert not deliver_report(older, db.options("evolving"), ledger(warehouse), run_id="r1", source="t").failed
    assert "csat_top2_rate" not in db.table("evolving").c

    refused = deliver_report(
        report, db.options("evolving", schema_evolution="fail"), ledger(warehouse), run_id="r2", source="t"
    )
    assert refused.failed and len(refused.failed) == len(refused.plan.items)
    error = refused.failed[0].error
    assert "csat_avg, csat_top2_rate" in error and "schema_evolution" in error and "\n" not in error
    assert "csat_top2_rate" not in db.table("evolving").c, "nothing changed"
    assert any(
        "lacks the report's column(s) csat_avg, csat_top2_rate" in str(r.get("note")) for r in refused.plan.requests
    )

    added = deliver_report(report, db.options("evolving"), ledger(warehouse), run_id="r3", source="t")
    assert not added.failed
    assert {"csat_top2_rate", "csat_avg"} <= set(db.table("evolving").c.keys())
    top2 = {r["row_key"]: r["csat_top2_rate"] for r in db.rows("evolving")}
    expected = dict(zip(row_keys(report).to_pylist(), report.table["csat_top2_rate"].to_pylist(), strict=True))
    assert {k: v if v is None else round(float(v), 4) for k, v in top2.items()} == {
        k: v if v is None else round(v, 4) for k, v in expected.items()
    }
    assert db.count("evolving") == 9


def test_a_changed_type_is_an_error_naming_the_column(db, warehouse):
    report = golden.report_of(warehouse)
    assert not deliver_report(report, db.options("typed"), ledger(warehouse), run_id="r1", source="t").failed
    # the report's calls_answered becomes text (a column that changed its meaning)
    as_text = report.table.set_column(
        report.table.schema.get_field_index("calls_answered"),
        "calls_answered",
        report.table["calls_answered"].cast(pa.string()),
    )
    changed = dataclasses.replace(report, table=as_text)
    failed = deliver_report(changed, db.options("typed"), ledger(warehouse), run_id="r2", source="t")
    assert failed.failed and len(failed.failed) == len(failed.plan.items)
    assert "calls_answered" in failed.failed[0].error and "type" in failed.failed[0].error
    with pytest.raises(Exception, match="calls_answered"):
        failed.raise_for_failures()


HOSTILE = 'zr "quoted"; DROP TABLE canary; -- 50% ü`x`'


def test_a_hostile_table_name_is_quoted_never_injected(db, warehouse):
    with db.engine.begin() as conn:
        canary = sa.Table(
            "canary", sa.MetaData(), sa.Column("row_key", sa.String(20), primary_key=True), schema=db.schema
        )
        canary.create(conn)
    report = golden.report_of(warehouse)
    target = db.options(HOSTILE, chunk_rows=5)
    assert delivery_for(target).check().ok
    delivered = deliver_report(report, target, ledger(warehouse), run_id="r1", source="t")
    assert not delivered.failed
    assert db.exists("canary") and db.exists(HOSTILE) and db.count(HOSTILE) == 9
    found = delivery_for(target).check()
    assert found.ok and "exists" in found.detail, found.detail
    again = deliver_report(report, target, ledger(warehouse), run_id="r2", source="t")
    assert not again.failed and db.count(HOSTILE) == 9


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("emoji 📞", "beyond U+FFFF"),
        ("nul\x00byte", "control character"),
        ("x" * 59, "at most 58"),
        (" padded", "space"),
        ("", "empty"),
    ],
)
def test_table_names_no_database_takes_are_refused_in_one_line(table, says):
    with pytest.raises(DeliveryConfigError) as refused:
        delivery_for({"type": "sql", "url": "sqlite:///x.db", "table": table})
    assert says in str(refused.value) and "table" in str(refused.value) and "\n" not in str(refused.value)


def test_a_password_in_the_options_is_refused_and_never_shown(caplog):
    for options in (
        {"url": "postgresql://bi:Hunter2-very-secret@db.example.com/bi"},
        {"url": "postgresql://bi@db.example.com/bi?password=Hunter2-very-secret"},
        {"credentials": "postgresql://bi:Hunter2-very-secret@db.example.com/bi"},
    ):
        with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryConfigError) as refused:
            delivery_for({"type": "sql", "table": "t", **options})
        message = str(refused.value)
        assert "Hunter2-very-secret" not in message and "\n" not in message
        assert next(iter(options)) in message
    assert "Hunter2-very-secret" not in caplog.text
    with pytest.raises(DeliveryConfigError, match="either credentials"):
        delivery_for({"type": "sql", "table": "t"})
    with pytest.raises(DeliveryConfigError, match="neither the name"):
        delivery_for({"type": "sql", "table": "t", "credentials": "Not A Name"})


def test_credentials_from_the_environment_never_show(warehouse, monkeypatch, caplog, tmp_path):
    need("postgresql")
    password = "pg-trust-ignores-this-7f3a9c"
    # 5433: nothing listens there, so the error is the driver's own, which must not show the password
    monkeypatch.setenv("ZR_TEST_BI_URL", f"postgresql://postgres:{password}@127.0.0.1:5433/test")
    target = {"type": "sql", "credentials": "env:ZR_TEST_BI", "table": "t"}
    with caplog.at_level(logging.DEBUG):
        check = delivery_for(target).check()
        failed = deliver_report(golden.report_of(warehouse), target, ledger(warehouse), run_id="r", source="t")
    assert not check.ok and failed.failed
    shown = [check.detail, caplog.text, *(r.error or "" for r in failed.failed)]
    shown += [str(v) for row in list_deliveries(warehouse) for v in row.__dict__.values()]
    assert not any(password in text for text in shown)
    monkeypatch.delenv("ZR_TEST_BI_URL")
    missing = delivery_for(target).check()
    assert not missing.ok and "ZR_TEST_BI_URL is not set" in missing.detail


def test_check_says_what_it_finds(db, warehouse):
    target = db.options("checked")
    fresh = delivery_for(target).check()
    assert fresh.ok and "will be created" in fresh.detail
    assert not db.exists("checked"), "check is read-only"
    deliver_report(golden.report_of(warehouse), target, ledger(warehouse), run_id="r", source="t")
    found = delivery_for(target).check()
    assert found.ok and "exists" in found.detail and "primary key row_key" in found.detail
    other_key = delivery_for(db.options("checked", key_column="id")).check()
    assert not other_key.ok and "primary key (row_key)" in other_key.detail
    if db.schema:
        gone = delivery_for({**target, "schema": db.schema + "_missing"}).check()
        assert not gone.ok and "does not exist" in gone.detail


def test_plan_shows_the_statements_and_writes_nothing(db, warehouse):
    report = golden.report_of(warehouse)
    plan = delivery_for(db.options("planned", chunk_rows=2)).plan(report)
    assert [item.rows for item in plan.items] == [2, 2, 2, 2, 1]
    assert sum(len(item.row_keys) for item in plan.items) == 9 and all(i.method == "upsert" for i in plan.items)
    statements = [r.get("statement", "") for r in plan.requests]
    assert statements[0].startswith("CREATE TABLE") and "PRIMARY KEY (row_key)" in statements[0]
    upsert = statements[-1]
    expected = {"postgresql": "ON CONFLICT (row_key) DO UPDATE", "mariadb": "ON DUPLICATE KEY UPDATE"}
    assert expected.get(db.dialect, "ON CONFLICT (row_key) DO UPDATE") in upsert
    if db.dialect == "postgresql":
        assert any(s.startswith("COPY ziwo_reports_staging") for s in statements)
    assert not db.exists("planned")


def test_a_test_send_goes_to_the_test_table(db, warehouse):
    report = golden.report_of(warehouse)
    target = delivery_for(db.options("live")).options
    test = marked(target)
    assert test.table_name == "live_test"
    results = list(delivery_for(test).deliver(report))
    assert all(r.status == "sent" for r in results)
    assert db.exists("live_test") and not db.exists("live")


def test_postgresql_insert_method_upserts_too(tmp_path, warehouse):
    """method: insert (no COPY) on PostgreSQL: the dialect's INSERT ... ON CONFLICT, executemany."""
    with namespace_of("postgresql", tmp_path) as db:
        report = golden.report_of(warehouse, "call-details", interval="none")
        for run in ("r1", "r2"):
            done = deliver_report(
                report, db.options("calls", method="insert", chunk_rows=3), ledger(warehouse), run_id=run, source="t"
            )
            assert not done.failed and {r.info["method"] for r in done.results} == {"insert"}
        copied = deliver_report(report, db.options("copied"), ledger(warehouse), run_id="r3", source="t")
        assert {r.info["method"] for r in copied.results} == {"copy"}
        drop = ("delivered_at",)
        assert db.rows("calls", without=drop) == db.rows("copied", without=drop), "both methods write the same"
    with pytest.raises(DeliveryConfigError, match="method 'copy' needs PostgreSQL"):
        delivery_for({"type": "sql", "url": "sqlite:///x.db", "table": "t", "method": "copy"}).plan(report)


# --- a crash: the process killed while a chunk is written, before its commit ----------------------

CRASHING = textwrap.dedent(
    """
    import contextlib, sys, time
    import sqlalchemy as sa
    from sqlalchemy import event
    from tests import golden
    from ziwo_reports.deliveries import deliver_report
    from ziwo_reports.warehouse import open_warehouse

    options, ledger_path, pause_at = eval(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    commits = []

    @event.listens_for(sa.Engine, "commit")
    def before_commit(conn):
        # the rows of the chunk are written, the transaction not yet committed
        commits.append(1)
        if len(commits) == pause_at:
            print("PAUSED", flush=True)
            time.sleep(120)

    with open_warehouse(ledger_path) as warehouse:
        report = golden.report_of(warehouse)
    # the ledger is opened per step, as a flow does: it is on disk when the process dies
    def ledger():
        return open_warehouse(ledger_path)
    deliver_report(report, options, ledger, run_id="crashed", source="test", record_every=1)
    print("FINISHED", flush=True)
    """
)


def test_a_crash_inside_a_chunk_leaves_no_half_chunk_and_the_rerun_completes(db, tmp_path):
    ledger_path = tmp_path / "ledger.duckdb"
    with open_warehouse(ledger_path) as warehouse:
        golden.load(warehouse)
        keys = row_keys(golden.report_of(warehouse)).to_pylist()
    options = db.options("crashed", chunk_rows=2)
    # commit 1 makes the table; 2 and 3 are chunks 1 and 2; the process dies inside chunk 3
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING, repr(options), str(ledger_path), "4"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "PAUSED", child.stderr.read()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    held = [row["row_key"] for row in db.rows("crashed")]
    assert sorted(held) == sorted(keys[:4]), "chunks 1 and 2 committed, nothing of chunk 3"

    with open_warehouse(ledger_path) as warehouse:
        unsent = list_deliveries(warehouse, unsent=True)
        assert len(unsent) == 3, "chunks 3, 4 and 5 are not sent in the ledger"
        replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
        assert not replayed.failed and not replayed.missing
        assert list_deliveries(warehouse, unsent=True) == []
    assert sorted(row["row_key"] for row in db.rows("crashed")) == sorted(keys), "complete, nothing twice"


def test_a_refused_chunk_fails_alone_and_replay_sends_only_it(tmp_path, warehouse):
    """PostgreSQL refuses one chunk (a CHECK constraint a row breaks): the chunks before and after
    it are committed; the ledger has the refused one, and replay sends only it once fixed."""
    with namespace_of("postgresql", tmp_path) as db:
        report = golden.report_of(warehouse)
        target = db.options("checked_rows", chunk_rows=3)
        deliver_report(report, target, ledger(warehouse), run_id="r0", source="t")
        fifth = row_keys(report).to_pylist()[4]  # in the second chunk of three
        qualified = f'"{db.schema}"."checked_rows"'
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {qualified}"))
            conn.execute(sa.text(f"ALTER TABLE {qualified} ADD CONSTRAINT not_fifth CHECK (row_key <> '{fifth}')"))
        partly = deliver_report(report, target, ledger(warehouse), run_id="r1", source="t")
        assert [r.status for r in partly.results] == ["sent", "failed", "sent"]
        error = partly.failed[0].error
        assert "CheckViolation" in error and "not_fifth" in error
        assert "Failing row" not in error, "the database's DETAIL holds the row's values: not in the ledger"
        assert db.count("checked_rows") == 6
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {qualified} DROP CONSTRAINT not_fifth"))
        unsent = list_deliveries(warehouse, unsent=True)
        assert len(unsent) == 1 and unsent[0].row_count == 3
        replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
        assert not replayed.failed and db.count("checked_rows") == 9


# --- workflows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_workflows_deliver_metrics_and_each_calls_row(dialect, simulator, tmp_path):
    with namespace_of(dialect, tmp_path / "db") as db:
        sim = simulator(days=1, calls_per_day=60)
        path = tmp_path / "ziwo.duckdb"
        with open_warehouse(path) as warehouse:
            run_ingest(sim, warehouse)
        metrics = parse_workflow(
            {
                "name": "sql-metrics",
                "trigger": {"schedule": {"cron": "0 6 * * *", "timezone": "UTC"}},
                "operation": {"report": {"report": "agent-performance", "rolling_date": "last_7_days"}},
                "deliveries": [db.options("agent_metrics")],
            }
        )
        now = sim.store.world.now
        ran = run_workflow(metrics, path, now=now, run_id="m1", source="test")
        assert not ran.failed and db.count("agent_metrics") > 0
        rows = db.count("agent_metrics")
        assert not run_workflow(metrics, path, now=now, run_id="m2", source="test").failed
        assert db.count("agent_metrics") == rows

        calls = parse_workflow(
            {
                "name": "sql-calls",
                "trigger": {"after_call": {"on_change": "once"}},
                "operation": {"call": {}},
                "deliveries": [db.options("calls", chunk_rows=10)],
            }
        )
        run_workflow(calls, path, run_id="c1", source="test")  # a fresh workflow starts at the current run
        sim.store.set_now(sim.store.world.now + timedelta(hours=3))
        with open_warehouse(path) as warehouse:
            run_ingest(sim, warehouse)
        second = run_workflow(calls, path, run_id="c2", source="test")
        assert not second.failed and second.kept > 0
        held = db.rows("calls")
        assert len(held) == second.kept and all(r["row_key"].startswith("sim:call:") for r in held)
        assert len({r["call_id"] for r in held}) == len(held), "one row per call"
        assert run_workflow(calls, path, run_id="c3", source="test").seen == 0
        assert db.count("calls") == second.kept


def test_example_workflows_validate():
    from ziwo_reports.workflows.model import load_workflow

    for name in ("sql-agent-metrics", "sql-call-details"):
        workflow = load_workflow(ROOT / "workflows" / "examples" / f"{name}.yaml")
        assert [t.type for t in workflow.targets()] == ["sql"]


# --- credentials in Prefect blocks ----------------------------------------------------------------


def test_a_sqlalchemy_connector_block_and_a_secret_block(prefect_api, tmp_path, warehouse):
    from prefect.blocks.system import Secret
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector, SyncDriver

    need("postgresql")
    with namespace_of("postgresql", tmp_path) as db:
        password = "block-password-0c9d2e"  # trust auth: PostgreSQL here takes any
        SqlAlchemyConnector(
            connection_info=ConnectionComponents(
                driver=SyncDriver.POSTGRESQL_PSYCOPG2,  # the block's own list; we connect with psycopg 3
                username="postgres",
                password=password,
                host="127.0.0.1",
                port=5432,
                database="test",
            )
        ).save("bi-warehouse", overwrite=True)
        Secret(value=URLS["postgresql"].replace("postgres@", f"postgres:{password}@")).save("bi-url", overwrite=True)
        report = golden.report_of(warehouse)
        for credentials, table in (("bi-warehouse", "from_block"), ("secret:bi-url", "from_secret")):
            target = {"type": "sql", "credentials": credentials, "schema": db.schema, "table": table}
            assert delivery_for(target).check().ok
            done = deliver_report(report, target, ledger(warehouse), run_id=table, source="t")
            assert not done.failed and db.count(table) == 9
        rows = list_deliveries(warehouse)
        assert rows and not any(password in str(v) for row in rows for v in row.__dict__.values())
        missing = delivery_for({"type": "sql", "credentials": "no-such-block", "table": "t"}).check()
        assert not missing.ok and "no-such-block" in missing.detail


def test_the_report_flow_delivers_into_the_database(prefect_api, simulator, monkeypatch, tmp_path):
    """The report flow's `deliveries` (plain dicts, as the Prefect form gives them) with a sql target:
    the rows in the table, each chunk in the ledger; a rerun of the period updates the same rows."""
    from ziwo_reports.deliveries import list_deliveries
    from ziwo_reports.flows.report import report

    sim = simulator(days=2, calls_per_day=150, now=None)  # flows plan from the real clock
    for name, value in {
        "ZIWO_BASE_URL": sim.base_url,
        "ZIWO_INSTANCE": "sim",
        "ZIWO_TIMEZONE": sim.config.timezone,
        "ZIWO_USERNAME": sim.config.username,
        "ZIWO_PASSWORD": sim.config.password,
        "ZIWO_REPORTS_HTTP_BACKOFF_BASE": "0.001",
    }.items():
        monkeypatch.setenv(name, value)
    with namespace_of("sqlite", tmp_path / "db") as db:
        path = tmp_path / "w.duckdb"
        deliveries = [db.options("agent_days", name="bi")]
        files = {"formats": ["csv"], "destination": str(tmp_path / "out")}
        written = report(db_path=str(path), rolling_date="last_n_days:1", files=files, deliveries=deliveries)
        assert db.count("agent_days") == written[0]["rows"] > 0
        report(db_path=str(path), rolling_date="last_n_days:1", ingest_first=False, files=files, deliveries=deliveries)
        assert db.count("agent_days") == written[0]["rows"]
        with open_warehouse(path, read_only=True) as warehouse:
            rows = [r for r in list_deliveries(warehouse, limit=1000) if r.target_name == "bi"]
        assert rows and {r.status for r in rows} == {"sent"} and {r.target_type for r in rows} == {"sql"}


def test_text_survives_as_it_is_empty_is_not_null(db, warehouse):
    """What CSV and COPY could mangle: an empty text (not NULL), NULL, quotes, commas, line breaks,
    backslashes, non-ASCII; NUL, which PostgreSQL's text cannot hold, is dropped there."""
    report = golden.report_of(warehouse)
    names = ["", None, 'a,"b"\nc', "back\\slash\\N", "ünï ✓ عربي", "tab\there", "x\x00y", "\\.", "  spaced  "]
    table = report.table.set_column(
        report.table.schema.get_field_index("group_name"), "group_name", pa.array(names, pa.string())
    )
    delivered = deliver_report(
        dataclasses.replace(report, table=table), db.options("texts"), ledger(warehouse), run_id="r", source="t"
    )
    assert not delivered.failed
    held = {row["row_key"]: row["group_name"] for row in db.rows("texts")}
    expected = dict(zip(row_keys(report).to_pylist(), names, strict=True))
    if db.dialect == "postgresql":
        expected = {k: v if v is None else v.replace("\x00", "") for k, v in expected.items()}
    assert held == expected


def test_reports_the_table_cannot_key_are_refused_before_anything_is_written(warehouse, tmp_path):
    report = golden.report_of(warehouse)
    target = {"type": "sql", "url": f"sqlite:///{tmp_path / 'bi.sqlite'}", "table": "t"}
    twice = dataclasses.replace(report, table=pa.concat_tables([report.table, report.table.slice(0, 1)]))
    with pytest.raises(DeliveryConfigError, match="rows with the same row key"):
        delivery_for(target).plan(twice)
    clash = report.table.append_column("delivered_at", pa.array(["x"] * report.table.num_rows))
    with pytest.raises(DeliveryConfigError, match="'delivered_at' has the name of a column the delivery adds"):
        delivery_for(target).plan(dataclasses.replace(report, table=clash))
    assert not (tmp_path / "bi.sqlite").exists()
